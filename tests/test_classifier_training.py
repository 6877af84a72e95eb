"""Training runs: reproducible, resumable from checkpoints (no pickle), any local HF checkpoint as base."""

from __future__ import annotations

import classifier_helpers  # noqa: F401  (sets HF_HUB_OFFLINE before transformers loads)
import numpy as np
import pytest
from classifier_helpers import TINY_CONFIG, separable_corpus, small_codebook, tiny_model_folder, tiny_settings

from groundcoder.classifier import BertConceptClassifier, LabelSpace, TrainSettings
from groundcoder.errors import GroundcoderError


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    return tiny_model_folder(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def labels():
    return LabelSpace.from_codebook(small_codebook())


@pytest.fixture(scope="module")
def data():
    return separable_corpus(96, seed=5), separable_corpus(40, seed=6)


def test_same_seed_same_model_other_seed_other_model(tiny_base, labels, data):
    (texts, label_sets), (probe, _) = data
    settings = tiny_settings(epochs=2)
    a = BertConceptClassifier(labels, base_model=tiny_base, settings=settings)
    a.fit(texts, label_sets, progress=False)
    b = BertConceptClassifier(labels, base_model=tiny_base, settings=settings)
    b.fit(texts, label_sets, progress=False)
    np.testing.assert_array_equal(a.predict_logits(probe), b.predict_logits(probe))
    # fitting again starts over from the base model: same result as the first fit
    first = a.predict_logits(probe)
    a.fit(texts, label_sets, progress=False)
    np.testing.assert_array_equal(a.predict_logits(probe), first)
    c = BertConceptClassifier(labels, base_model=tiny_base, settings=settings.replace(seed=1))
    c.fit(texts, label_sets, progress=False)
    assert np.abs(c.predict_logits(probe) - first).max() > 1e-3


def test_a_killed_run_resumes_to_the_uninterrupted_result(tiny_base, labels, data, tmp_path):
    (texts, label_sets), (probe, _) = data
    settings = tiny_settings(epochs=2, checkpoint_every=4)     # 6 steps per epoch: checkpoints at 4, 6, 8, 12
    reference = BertConceptClassifier(labels, base_model=tiny_base, settings=settings)
    ref_history = reference.fit(texts, label_sets, progress=False)
    assert ref_history.steps == 12

    def kill_at_step_10(info):
        if info.global_step == 10:
            raise Interrupt

    ckpt = tmp_path / "ckpt"
    run = BertConceptClassifier(labels, base_model=tiny_base, settings=settings)
    with pytest.raises(Interrupt):
        run.fit(texts, label_sets, checkpoint_dir=ckpt, progress=False, on_step=kill_at_step_10)
    # the checkpoint holds only safetensors and JSON
    files = sorted(p.name for p in (ckpt / "last").iterdir())
    assert files == ["model.safetensors", "optimizer.json", "optimizer.safetensors", "rng.safetensors",
                     "scheduler.json", "trainer_state.json"]

    resumed = BertConceptClassifier(labels, base_model=tiny_base, settings=settings)   # a fresh process, in effect
    history = resumed.fit(texts, label_sets, checkpoint_dir=ckpt, progress=False)
    assert history.resumed_from_step == 8
    assert history.steps == 12
    np.testing.assert_allclose(resumed.predict_logits(probe), reference.predict_logits(probe), atol=1e-6, rtol=0)
    assert [round(e.train_loss, 6) for e in history.epochs] == [round(e.train_loss, 6) for e in ref_history.epochs]

    # a finished run resumes to its end without training again
    again = BertConceptClassifier(labels, base_model=tiny_base, settings=settings)
    steps = []
    again.fit(texts, label_sets, checkpoint_dir=ckpt, progress=False, on_step=steps.append)
    assert steps == []
    np.testing.assert_allclose(again.predict_logits(probe), reference.predict_logits(probe), atol=1e-6, rtol=0)


def test_a_checkpoint_of_other_data_is_refused(tiny_base, labels, data, tmp_path):
    (texts, label_sets), _ = data
    settings = tiny_settings(epochs=1)
    BertConceptClassifier(labels, base_model=tiny_base, settings=settings).fit(
        texts, label_sets, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(GroundcoderError, match="checkpoint of another run"):
        BertConceptClassifier(labels, base_model=tiny_base, settings=settings).fit(
            texts[:-1], label_sets[:-1], checkpoint_dir=tmp_path, progress=False)


def test_any_local_hugging_face_checkpoint_works(labels, data, tmp_path):
    """A tiny BERT saved with save_pretrained (what a downloaded checkpoint looks like) as the base."""
    import torch
    from transformers import BertConfig, BertModel

    from groundcoder.classifier.vocab import make_tokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set("".join(data[0][0] + data[1][0])))
    tokenizer = make_tokenizer(vocab)
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(vocab), **TINY_CONFIG))
    folder = tmp_path / "local-bert"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert (folder / "model.safetensors").exists()

    clf = BertConceptClassifier(labels, base_model=folder, settings=TrainSettings.for_base_model(folder, epochs=1,
                                                                                                   num_threads=1))
    assert clf.settings.lr == 3e-5                      # fine-tuning defaults for a checkpoint with weights
    loaded = clf._net.encoder.state_dict()
    for key, value in model.state_dict().items():
        if key in loaded:
            assert torch.equal(loaded[key], value), key   # the checkpoint's weights, not random ones
    assert "embeddings.word_embeddings.weight" in loaded
    clf.fit(*data[0], progress=False)
    assert clf.predict_proba(data[1][0]).shape == (40, 4)


def test_pickle_only_checkpoints_and_missing_hub_models_are_refused(labels, tmp_path):
    from transformers import BertConfig

    folder = tmp_path / "pickled"
    BertConfig(vocab_size=20, **TINY_CONFIG).save_pretrained(folder)
    from groundcoder.classifier.compact import compact_dir
    import shutil

    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(compact_dir() / name, folder / name)
    (folder / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(GroundcoderError, match="pickle"):
        BertConceptClassifier(labels, base_model=folder)
    with pytest.raises(GroundcoderError, match="huggingface-cli download"):
        BertConceptClassifier(labels, base_model="groundcoder-test/no-such-model")

"""The compact offline Chinese BERT (models/compact-zh) and how a base model is resolved.

Contract:

* ``COMPACT_CONFIG``: BERT, 4 layers, hidden 256, 4 heads, intermediate 1024, 512 positions
  (BERT-mini of Turc et al. 2019 in shape; 7.2 M parameters, 3.9 M of them the embeddings of the
  15,284-token character vocabulary).
* ``compact_config(vocab_size, **overrides)`` -> ``BertConfig``; ``write_compact_folder(out_dir,
  **overrides)`` writes config.json, vocab.txt and the tokenizer files (no weights) -- this is how
  models/compact-zh is (re)built: ``python -m groundcoder.classifier.compact models/compact-zh``.
  Tests use it with small overrides (2 layers, 64 hidden) for a tiny model.
* ``build_compact_model(path=None, seed=0, masked_lm=False)`` -> random-initialised model from the
  folder's config (``BertModel`` encoder, or ``BertForMaskedLM`` for pretraining), seeded and
  deterministic; the global torch RNG is left as it was.
* ``has_weights(path)``: a local folder with model.safetensors (or shards). A folder with only a
  config and a tokenizer (like models/compact-zh) is built from random weights with the seed.
* ``load_tokenizer(base)``, ``load_encoder(base, seed)``, ``load_masked_lm(base, seed)``: any
  Hugging Face checkpoint by hub id or local folder (``AutoTokenizer`` / ``AutoModel`` /
  ``AutoModelForMaskedLM``), weights only from safetensors (``use_safetensors=True``: a checkpoint
  that ships only a pickled ``pytorch_model.bin`` is refused, never unpickled). A hub id that is
  not in the local cache while offline raises ``GroundcoderError`` saying how to fetch it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import GroundcoderError
from ..paths import models_dir
from .vocab import build_char_vocab, make_tokenizer, write_vocab

COMPACT_NAME = "compact-zh"
COMPACT_CONFIG: dict[str, Any] = {
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 1024,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")


def compact_dir() -> Path:
    return models_dir() / COMPACT_NAME


def compact_config(vocab_size: int, **overrides: Any):
    from transformers import BertConfig

    values = {**COMPACT_CONFIG, **overrides}
    return BertConfig(vocab_size=vocab_size, **values)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and weight progress bars for the duration."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def write_compact_folder(out_dir: str | Path, *, jieba_dict: str | Path | None = None, **config_overrides: Any) -> Path:
    """Write config.json, vocab.txt, tokenizer.json and tokenizer_config.json (no weights)."""
    import tempfile

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = build_char_vocab(jieba_dict)
    tokenizer = make_tokenizer(vocab)
    config = compact_config(len(vocab), **config_overrides)
    with tempfile.TemporaryDirectory(dir=out, prefix=".build-") as tmp:
        with quiet_transformers():
            tokenizer.save_pretrained(tmp)
            config.save_pretrained(tmp)
        write_vocab(vocab, Path(tmp) / "vocab.txt")
        for name in sorted(os.listdir(tmp)):
            os.replace(Path(tmp) / name, out / name)
    return out


def has_weights(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and any((path / f).exists() for f in WEIGHT_FILES)


def _is_config_only(base: str | Path) -> bool:
    path = Path(base)
    return path.is_dir() and (path / "config.json").exists() and not has_weights(path) and not any(
        (path / f).exists() for f in PICKLE_FILES)


def _load_error(base: str | Path, what: str, exc: Exception) -> GroundcoderError:
    path = Path(base)
    if path.is_dir():
        if any((path / f).exists() for f in PICKLE_FILES) and not has_weights(path):
            return GroundcoderError(
                f"{base}: the checkpoint ships its weights only as a pickle (pytorch_model.bin), which groundcoder "
                "never loads (unpickling can run code). Convert it once on a machine you trust: "
                "AutoModel.from_pretrained(path).save_pretrained(path) writes model.safetensors; or download a "
                "revision that has model.safetensors."
            )
        return GroundcoderError(f"{base}: could not load the {what}: {exc}")
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    return GroundcoderError(
        f"could not load the {what} {str(base)!r}: it is not a local folder"
        + (" and HF_HUB_OFFLINE is set" if offline else "")
        + f" ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
        "Give a local folder (models/compact-zh is the offline default), or on a machine with network access run "
        f"`huggingface-cli download {base} --local-dir models/{str(base).split('/')[-1]}` and pass that folder."
    )


def load_tokenizer(base: str | Path):
    from transformers import AutoTokenizer

    try:
        with quiet_transformers():
            return AutoTokenizer.from_pretrained(str(base))
    except (OSError, ValueError, KeyError) as exc:
        raise _load_error(base, "tokenizer", exc) from exc


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_compact_model(path: str | Path | None = None, *, seed: int = 0, masked_lm: bool = False):
    """Random-initialised model from the config in ``path`` (default models/compact-zh), seeded."""
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

    path = Path(path) if path is not None else compact_dir()
    if not (path / "config.json").exists():
        raise GroundcoderError(f"{path}: no config.json; rebuild with `python -m groundcoder.classifier.compact {path}`")
    with quiet_transformers():
        config = AutoConfig.from_pretrained(str(path))
        with _seeded(seed):
            if masked_lm:
                return AutoModelForMaskedLM.from_config(config)
            try:
                return AutoModel.from_config(config, add_pooling_layer=False)
            except TypeError:
                return AutoModel.from_config(config)


def load_encoder(base: str | Path, *, seed: int = 0):
    """The encoder of ``base`` (pretrained weights, or seeded random weights for a config-only folder)."""
    from transformers import AutoModel

    if _is_config_only(base):
        return build_compact_model(base, seed=seed)
    try:
        with quiet_transformers(), _seeded(seed):
            try:
                return AutoModel.from_pretrained(str(base), use_safetensors=True, add_pooling_layer=False)
            except TypeError:
                return AutoModel.from_pretrained(str(base), use_safetensors=True)
    except (OSError, ValueError, KeyError) as exc:
        raise _load_error(base, "base model", exc) from exc


def load_masked_lm(base: str | Path, *, seed: int = 0):
    from transformers import AutoModelForMaskedLM

    if _is_config_only(base):
        return build_compact_model(base, seed=seed, masked_lm=True)
    try:
        with quiet_transformers(), _seeded(seed):
            return AutoModelForMaskedLM.from_pretrained(str(base), use_safetensors=True)
    except (OSError, ValueError, KeyError) as exc:
        raise _load_error(base, "masked-LM model", exc) from exc


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else compact_dir()
    out = write_compact_folder(target)
    print(f"wrote {', '.join(sorted(p.name for p in out.iterdir() if p.is_file()))} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

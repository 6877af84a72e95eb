"""Masked-language-model pretraining on the researcher's own unlabelled texts.

Contract::

    result = mlm_pretrain(texts, base_model="models/compact-zh", out_dir="models/compact-zh-mlm",
                          settings=PretrainSettings(), eval_texts=None, progress=True)
    result.train_losses        # mean masked-LM loss of each epoch
    result.eval_loss_before    # held-out masked-LM loss before / after (same fixed masks); None
    result.eval_loss_after     #   without eval_texts
    BertConceptClassifier(labels, base_model=result.out_dir)   # the classifier starts from it

* ``base_model``: a config-only folder (models/compact-zh: pretraining from scratch from seeded
  random weights) or any masked-LM checkpoint by hub id or folder (continued pretraining).
* Texts are cut into pieces of at most ``max_length - 2`` characters at sentence ends (。！？；
  and line breaks), then tokenised. Masking is **whole-character / whole-word**: a word is a token
  plus the ``##`` pieces that continue it (so "2023" = 2 ##0 ##2 ##3 is masked as a unit, each
  Chinese character is its own word); ``mask_prob`` (15 %) of the words of each piece are chosen
  (at least one), and their tokens become [MASK] 80 %, a random token 10 %, unchanged 10 %.
  The held-out loss uses one fixed masking of ``eval_texts`` (seeded), before and after training.
* ``out_dir`` receives the model (``save_pretrained``: model.safetensors + config.json), the
  tokenizer files, vocab.txt, and pretrain.json (settings and result). Files are replaced one by
  one atomically. Reproducible for a given seed.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .compact import load_masked_lm, load_tokenizer, quiet_transformers
from .modeling import TrainSettings, _check_texts, make_adamw, _move_into, _progress, _training_context

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")


@dataclass(frozen=True)
class PretrainSettings:
    epochs: int = 3
    lr: float = 5e-4
    batch_size: int = 32
    max_length: int = 128
    seed: int = 0
    mask_prob: float = 0.15
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    grad_clip: float = 1.0
    deterministic: bool = True
    num_threads: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            problems.append(f"epochs must be a whole number >= 1, got {self.epochs!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            problems.append(f"lr must be > 0, got {self.lr!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            problems.append(f"batch_size must be >= 1, got {self.batch_size!r}")
        if not (isinstance(self.max_length, int) and 8 <= self.max_length <= 4096):
            problems.append(f"max_length must be in 8..4096, got {self.max_length!r}")
        if not (isinstance(self.mask_prob, (int, float)) and 0 < self.mask_prob < 1):
            problems.append(f"mask_prob must be in (0, 1), got {self.mask_prob!r}")
        if problems:
            raise InputError(None, "bad pretraining settings: " + "; ".join(problems))

    @classmethod
    def from_train_settings(cls, settings: TrainSettings, **overrides: Any) -> PretrainSettings:
        shared = {f.name for f in fields(cls)} & set(settings.to_dict())
        return cls(**{**{k: getattr(settings, k) for k in shared}, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PretrainResult:
    train_losses: list[float] = field(default_factory=list)
    eval_loss_before: float | None = None
    eval_loss_after: float | None = None
    n_train_pieces: int = 0
    n_eval_pieces: int = 0
    steps: int = 0
    seconds: float = 0.0
    out_dir: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_pieces(texts: Iterable[str], max_chars: int) -> list[str]:
    """Cut texts into pieces of at most ``max_chars`` characters, preferring sentence ends."""
    pieces: list[str] = []
    for text in texts:
        current = ""
        for sentence in _SENTENCE_END.split(text):
            sentence = sentence.strip()
            while len(sentence) > max_chars:
                if current:
                    pieces.append(current)
                    current = ""
                pieces.append(sentence[:max_chars])
                sentence = sentence[max_chars:]
            if not sentence:
                continue
            if len(current) + len(sentence) > max_chars:
                pieces.append(current)
                current = ""
            current += sentence
        if current.strip():
            pieces.append(current)
    return [p for p in pieces if p.strip()]


def continuation_mask(tokenizer: Any) -> np.ndarray:
    """Boolean per vocabulary id: True for ``##`` pieces, which belong to the word before them."""
    vocab = tokenizer.get_vocab()
    out = np.zeros(max(len(tokenizer), max(vocab.values()) + 1), dtype=bool)
    for token, idx in vocab.items():
        if token.startswith("##") and len(token) > 2:
            out[idx] = True
    return out


def mask_whole_words(ids: Sequence[int], *, special: set[int], is_continuation: np.ndarray, mask_id: int,
                     vocab_size: int, mask_prob: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """(inputs, labels) for one sequence: labels -100 except at the masked positions."""
    words: list[list[int]] = []
    for pos, tok in enumerate(ids):
        if tok in special:
            continue
        if words and tok < len(is_continuation) and is_continuation[tok] and words[-1][-1] == pos - 1:
            words[-1].append(pos)
        else:
            words.append([pos])
    inputs = list(ids)
    labels = [-100] * len(ids)
    if not words:
        return inputs, labels
    n_mask = max(1, int(round(mask_prob * len(words))))
    chosen = rng.permutation(len(words))[:n_mask]
    for w in sorted(chosen):
        action = rng.random()
        for pos in words[w]:
            labels[pos] = ids[pos]
            if action < 0.8:
                inputs[pos] = mask_id
            elif action < 0.9:
                inputs[pos] = int(rng.integers(0, vocab_size))
    return inputs, labels


def _collate(rows: list[tuple[list[int], list[int]]], pad_id: int):
    import torch

    width = max(len(r[0]) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (inp, lab) in enumerate(rows):
        input_ids[i, : len(inp)] = torch.as_tensor(inp)
        labels[i, : len(lab)] = torch.as_tensor(lab)
        mask[i, : len(inp)] = 1
    return input_ids, mask, labels


def _mlm_head(model: Any) -> Any:
    """The masked-LM head (BERT's ``cls``, RoBERTa's ``lm_head``) when it can be told apart, else None."""
    base = getattr(model, "base_model", None)
    if base is None or base is model:
        return None
    heads = [child for _, child in model.named_children() if child is not base]
    return heads[0] if len(heads) == 1 else None


def _mlm_loss(model: Any, input_ids: Any, mask: Any, labels: Any, reduction: str = "mean") -> Any:
    """Cross-entropy at the masked positions; the vocabulary projection runs only there (4-5x faster)."""
    import torch

    head = _mlm_head(model)
    selected = labels != -100
    if head is not None:
        hidden = model.base_model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        logits = head(hidden[selected])
        return torch.nn.functional.cross_entropy(logits.float(), labels[selected], reduction=reduction)
    logits = model(input_ids=input_ids, attention_mask=mask).logits
    return torch.nn.functional.cross_entropy(logits[selected].float(), labels[selected], reduction=reduction)


def _eval_loss(model: Any, batches: list[tuple[Any, Any, Any]]) -> float:
    import torch

    model.eval()
    total = 0.0
    count = 0
    with torch.inference_mode():
        for input_ids, mask, labels in batches:
            if int((labels != -100).sum()) == 0:
                continue
            total += float(_mlm_loss(model, input_ids, mask, labels, reduction="sum"))
            count += int((labels != -100).sum())
    return total / count if count else float("nan")


def mlm_pretrain(texts: Iterable[str], base_model: str | Path | None = None, out_dir: str | Path = "models/pretrained",
                 settings: PretrainSettings | TrainSettings | None = None, eval_texts: Iterable[str] | None = None,
                 progress: bool = True) -> PretrainResult:
    """Masked-LM (continued) pretraining of ``base_model`` on ``texts``; writes ``out_dir`` (see module doc)."""
    import torch

    from .compact import compact_dir

    if settings is None:
        settings = PretrainSettings()
    elif isinstance(settings, TrainSettings):
        settings = PretrainSettings.from_train_settings(settings)
    elif not isinstance(settings, PretrainSettings):
        raise InputError(None, f"settings must be PretrainSettings or TrainSettings, got {type(settings).__name__}")
    s = settings
    base = str(base_model) if base_model is not None else str(compact_dir())
    texts = _check_texts(texts)
    pieces = split_pieces(texts, s.max_length - 2)
    if not pieces:
        raise InputError(None, "no text to pretrain on: every text is empty")
    eval_pieces = split_pieces(_check_texts(eval_texts, "eval_texts"), s.max_length - 2) if eval_texts is not None else []

    tokenizer = load_tokenizer(base)
    if tokenizer.mask_token_id is None:
        raise InputError(None, f"the tokenizer of {base} has no [MASK] token; masked-LM pretraining needs one")
    special = set(tokenizer.all_special_ids)
    is_cont = continuation_mask(tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    vocab_size = len(tokenizer)

    def encode(items: list[str]) -> list[list[int]]:
        return tokenizer(items, truncation=True, max_length=s.max_length, verbose=False)["input_ids"] if items else []

    ids = encode(pieces)
    eval_ids = encode(eval_pieces)
    mask_kw = dict(special=special, is_continuation=is_cont, mask_id=tokenizer.mask_token_id,
                   vocab_size=vocab_size, mask_prob=s.mask_prob)
    eval_rng = np.random.default_rng([s.seed, 999_999])
    eval_rows = [mask_whole_words(x, rng=eval_rng, **mask_kw) for x in eval_ids]
    eval_batches = [_collate(eval_rows[i: i + 64], pad_id) for i in range(0, len(eval_rows), 64)]

    result = PretrainResult(n_train_pieces=len(pieces), n_eval_pieces=len(eval_pieces), out_dir=str(out_dir))
    train_settings = TrainSettings(seed=s.seed, deterministic=s.deterministic, num_threads=s.num_threads)
    start = time.perf_counter()
    with _training_context(train_settings):
        model = load_masked_lm(base, seed=s.seed)
        if model.get_input_embeddings().num_embeddings < vocab_size:
            model.resize_token_embeddings(vocab_size)
        if eval_batches:
            result.eval_loss_before = _eval_loss(model, eval_batches)
        steps_per_epoch = math.ceil(len(ids) / s.batch_size)
        total = steps_per_epoch * s.epochs
        warmup = int(round(s.warmup_ratio * total))
        decay, no_decay = [], []
        for name, param in model.named_parameters():
            if param.requires_grad:
                (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
        optimizer = make_adamw([{"params": decay, "weight_decay": s.weight_decay},
                                {"params": no_decay, "weight_decay": 0.0}], lr=s.lr)

        def schedule(step: int) -> float:
            if warmup and step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total - step) / max(1, total - warmup))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        torch.manual_seed(s.seed + 1)
        bar = _progress(progress, total, "pretraining")
        try:
            for epoch in range(s.epochs):
                model.train()
                rng = np.random.default_rng([s.seed, epoch])
                order = rng.permutation(len(ids))
                losses = []
                for b in range(0, len(order), s.batch_size):
                    rows = [mask_whole_words(ids[i], rng=rng, **mask_kw) for i in order[b: b + s.batch_size]]
                    input_ids, mask, labels = _collate(rows, pad_id)
                    loss = _mlm_loss(model, input_ids, mask, labels)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if s.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
                    optimizer.step()
                    scheduler.step()
                    losses.append(float(loss.detach()))
                    result.steps += 1
                    bar.advance(1, epoch=f"{epoch + 1}/{s.epochs}", loss=f"{losses[-1]:.3f}")
                result.train_losses.append(float(np.mean(losses)))
        finally:
            bar.close()
        if eval_batches:
            result.eval_loss_after = _eval_loss(model, eval_batches)
        model.eval()
    result.seconds = round(time.perf_counter() - start, 3)

    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".save-") as tmp_name:
        tmp = Path(tmp_name)
        with quiet_transformers():
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        vocab = tokenizer.get_vocab()
        if type(tokenizer).__name__.startswith("BertTokenizer"):
            (tmp / "vocab.txt").write_text("".join(f"{t}\n" for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])),
                                           encoding="utf-8")
        (tmp / "pretrain.json").write_text(json.dumps({"base_model": base, "settings": s.to_dict(), "result": result.to_dict()},
                                                      ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        _move_into(tmp, target)
    return result

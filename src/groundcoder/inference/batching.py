"""Length bucketing: sort token sequences by length, batch them, run, restore the input order.

Padding every batch to its longest sequence wastes compute on pad tokens; after sorting, the
sequences of a batch have nearly the same length. A batch holds at most ``batch_size`` sequences and
at most ``max_batch_tokens`` cells (rows x padded width), so a batch of long windows stays small in
memory. The plan depends only on the lengths (stable sort), so the same inputs always give the same
batches and identical outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def plan_batches(lengths: Sequence[int] | np.ndarray, batch_size: int, max_batch_tokens: int) -> list[np.ndarray]:
    """Index arrays of the batches, in ascending length (each a run of the stable length order)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if batch_size < 1 or max_batch_tokens < 1:
        raise ValueError("batch_size and max_batch_tokens must be >= 1")
    order = np.argsort(lengths, kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    n = len(order)
    while start < n:
        stop = start + 1
        # Sorted ascending: the batch's width is the length of its last member.
        while stop < n and stop - start < batch_size and int(lengths[order[stop]]) * (stop - start + 1) <= max_batch_tokens:
            stop += 1
        batches.append(order[start:stop])
        start = stop
    return batches


def pad_batch(ids: Sequence[Sequence[int]], idx: Sequence[int], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) int64 ``[len(idx), width]`` of the sequences ``ids[i]`` for i in idx."""
    width = max(len(ids[i]) for i in idx)
    input_ids = np.full((len(idx), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(idx), width), dtype=np.int64)
    for row, i in enumerate(idx):
        seq = ids[i]
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return input_ids, mask


def run_bucketed(
    ids: Sequence[Sequence[int]],
    forward: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    width: int,
    pad_id: int,
    batch_size: int,
    max_batch_tokens: int,
) -> np.ndarray:
    """``forward(input_ids, mask) -> [b, width]`` over length-bucketed batches; float32 ``[n, width]`` in input order."""
    out = np.zeros((len(ids), width), dtype=np.float32)
    if not len(ids):
        return out
    for idx in plan_batches([len(x) for x in ids], batch_size, max_batch_tokens):
        input_ids, mask = pad_batch(ids, idx, pad_id)
        out[idx] = forward(input_ids, mask)
    return out


def run_one_by_one(
    ids: Sequence[Sequence[int]],
    forward: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    width: int,
) -> np.ndarray:
    """The naive loop (one sequence per forward pass): the benchmark's baseline."""
    out = np.zeros((len(ids), width), dtype=np.float32)
    for i, seq in enumerate(ids):
        input_ids = np.asarray([seq], dtype=np.int64)
        out[i] = forward(input_ids, np.ones_like(input_ids))[0]
    return out

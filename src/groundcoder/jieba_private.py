"""groundcoder's own jieba tokenizers.

jieba's module-level functions share one global dictionary, so adding words there would change every
later segmentation in the user's process. groundcoder therefore only ever uses private
``jieba.Tokenizer`` instances, built here.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def quiet_jieba() -> Iterator[None]:
    """Silence jieba's "Building prefix dict ..." messages (printed on every tokenizer start)."""
    logger = logging.getLogger("jieba")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def new_tokenizer() -> Any:
    """A fresh private tokenizer with jieba's default dictionary, for callers that add words to it."""
    import jieba

    tokenizer = jieba.Tokenizer()
    with quiet_jieba():
        tokenizer.initialize()
    return tokenizer


@functools.lru_cache(maxsize=1)
def shared_tokenizer() -> Any:
    """One private default-dictionary tokenizer per process, for callers that never add words
    (loading the dictionary takes a second or more)."""
    return new_tokenizer()

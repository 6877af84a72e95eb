"""Quality checks on hand-coded quotes: variety across quotes, and no concept dominated by one phrase.

A classifier trained on templated quotes learns the template, not the meaning; these checks keep the
demo corpus honest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

SIMILARITY_LIMIT = 0.5
DOMINANCE_LIMIT = 0.5      # share of a concept's quotes that may contain one repeated phrase
DOMINANCE_PHRASE_LEN = 8    # characters; shorter shared strings are domain vocabulary (高新技术企业)
OPENING_LEN = 4             # a template usually shows as the same opening words
DOMINANCE_MIN_QUOTES = 4
GENERAL_PHRASE_SHARE = 0.03  # a phrase in more than 3% of all quotes is general vocabulary


def char_ngrams(text: str, n: int = 5) -> set[str]:
    compact = "".join(text.split())
    if len(compact) < n:
        return {compact} if compact else set()
    return {compact[i:i + n] for i in range(len(compact) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass
class SimilarPair:
    first: int
    second: int
    similarity: float


def similar_pairs(texts: Sequence[str], limit: float = SIMILARITY_LIMIT, n: int = 5) -> list[SimilarPair]:
    """Pairs of texts whose character n-gram Jaccard similarity exceeds ``limit``.

    An inverted index over n-grams keeps this near-linear for a corpus of a thousand quotes.
    """
    grams = [char_ngrams(t, n) for t in texts]
    index: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(grams):
        for gram in g:
            index[gram].append(i)
    shared: Counter[tuple[int, int]] = Counter()
    for ids in index.values():
        if len(ids) < 2:
            continue
        for a_pos, a in enumerate(ids):
            for b in ids[a_pos + 1:]:
                shared[(a, b)] += 1
    pairs = []
    for (a, b), inter in shared.items():
        union = len(grams[a]) + len(grams[b]) - inter
        sim = inter / union if union else 0.0
        if sim > limit:
            pairs.append(SimilarPair(a, b, sim))
    return sorted(pairs, key=lambda p: -p.similarity)


@dataclass
class DominantPhrase:
    concept: str
    phrase: str
    share: float
    n_quotes: int


def _phrases(text: str, phrase_len: int) -> set[str]:
    compact = "".join(ch for ch in text if ch.isalnum())
    return {compact[i:i + phrase_len] for i in range(len(compact) - phrase_len + 1)}


def dominant_phrases(
    quotes_by_concept: dict[str, list[str]],
    limit: float = DOMINANCE_LIMIT,
    phrase_len: int = DOMINANCE_PHRASE_LEN,
    min_quotes: int = DOMINANCE_MIN_QUOTES,
    general_share: float = GENERAL_PHRASE_SHARE,
) -> list[DominantPhrase]:
    """Concepts where one concept-specific phrase occurs in more than ``limit`` of the concept's quotes.

    Two shapes of template are caught: a shared phrase of ``phrase_len`` characters, and a shared
    opening. Openings common across the whole corpus (报告期内 ...) are the register of annual reports,
    not a concept's template, so openings found in more than ``general_share`` of all quotes are ignored.
    """
    all_texts = {t for texts in quotes_by_concept.values() for t in texts}
    opening_counts = Counter("".join(ch for ch in t if ch.isalnum())[:OPENING_LEN] for t in all_texts)
    general = {p for p, c in opening_counts.items() if c > general_share * max(1, len(all_texts))}
    found = []
    for concept, texts in quotes_by_concept.items():
        if len(texts) < min_quotes:
            continue
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(_phrases(text, phrase_len))
        if not counts:
            continue
        phrase, count = counts.most_common(1)[0]
        share = count / len(texts)
        if share > limit:
            found.append(DominantPhrase(concept, phrase, share, len(texts)))
            continue
        openings = Counter("".join(ch for ch in t if ch.isalnum())[:OPENING_LEN] for t in texts)
        opening, count = openings.most_common(1)[0]
        if count / len(texts) > limit and opening not in general:
            found.append(DominantPhrase(concept, opening + "…", count / len(texts), len(texts)))
    return found

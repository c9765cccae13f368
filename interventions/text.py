"""Words to index terms, and a small BM25F index over plans' text fields.

Full-text search over ~50 plans does not justify a search engine, but plain substring matching ranks
badly ("drum" should find "drumming", a title match should beat a passing mention in a precaution).
BM25F (per-field weights, saturating term frequency, rare words count more) does that in a few dozen
lines. The stemmer is deliberately crude: it only has to map the forms therapists type to the forms
plans use ("walking"/"walks" -> "walk", "regulation"/"regulate" -> "regul"), consistently.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+")
_SUFFIXES = (
    "ational", "ation", "ating", "ated", "ate", "ing", "ied", "ional", "ion", "ment", "ness",
    "ence", "ance", "er", "ed", "ly", "ive",
)  # fmt: skip
_IRREGULAR = {"children": "child", "feet": "foot", "people": "person", "men": "man", "women": "woman"}
STOP_WORDS = frozenset({
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "do", "for", "from", "has", "have",
    "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our",
    "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "up",
    "us", "was", "we", "what", "when", "which", "while", "who", "will", "with", "you", "your", "client",
    "clients", "improve", "increase", "decrease", "reduce", "maintain", "able", "demonstrate", "better",
})  # fmt: skip


@lru_cache(maxsize=1 << 16)  # plans repeat a small vocabulary: building the index gets several times faster
def stem(word: str) -> str:
    """A crude but consistent stem: drop a plural, then one common suffix, a final "e" and a doubled
    final consonant. The plural goes first so that "fingers" and "finger" end up alike."""
    word = _IRREGULAR.get(word, word)
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix == "ied" else "")
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-case words of `text`, without stop words, single letters or bare numbers.

    Numbers are dropped because in plans they are mostly scales and criteria ("0-10", "8 of 10"), which
    would make every goal with a criterion look similar to every plan with a rating.
    """
    return [
        w for w in _WORD.findall(text.casefold()) if len(w) > 1 and not w.isdigit() and w not in STOP_WORDS
    ]


def terms(text: str) -> list[str]:
    """The index terms of `text`, in order."""
    return [stem(w) for w in words(text)]


def term_words(text: str) -> dict[str, str]:
    """Each term of `text` mapped to the first word that produced it (to explain matches in their words)."""
    found: dict[str, str] = {}
    for word in words(text):
        found.setdefault(stem(word), word)
    return found


@dataclass(frozen=True)
class Match:
    """How well one document matched a query, and which query terms it contained."""

    score: float
    terms: frozenset[str]


class TextIndex:
    """BM25F over documents made of weighted text fields.

    `documents` is one mapping per document from field name to its text; `weights` says how much a word
    in each field counts (a word in the title counts more than one in a precaution).
    """

    K1 = 1.2
    B = 0.5

    def __init__(self, documents: Sequence[Mapping[str, str]], weights: Mapping[str, float]) -> None:
        self._frequencies: list[dict[str, float]] = []
        self._lengths: list[float] = []
        document_frequency: Counter[str] = Counter()
        for document in documents:
            weighted: dict[str, float] = {}
            length = 0.0
            for name, text in document.items():
                weight = weights[name]
                for term, count in Counter(terms(text)).items():
                    weighted[term] = weighted.get(term, 0.0) + weight * count
                    length += weight * count
            self._frequencies.append(weighted)
            self._lengths.append(length)
            document_frequency.update(weighted.keys())
        total = len(documents)
        self._average_length = (sum(self._lengths) / total) if total else 1.0
        self._idf = {
            term: math.log(1 + (total - df + 0.5) / (df + 0.5)) for term, df in document_frequency.items()
        }

    def match(self, query_terms: Sequence[str]) -> dict[int, Match]:
        """Every document containing any of `query_terms`, by position, with its score."""
        unique = set(query_terms)
        found: dict[int, Match] = {}
        for position, weighted in enumerate(self._frequencies):
            score = 0.0
            hits = set()
            norm = 1 - self.B + self.B * self._lengths[position] / self._average_length
            for term in unique:
                frequency = weighted.get(term)
                if frequency:
                    score += self._idf[term] * frequency * (self.K1 + 1) / (frequency + self.K1 * norm)
                    hits.add(term)
            if hits:
                found[position] = Match(score, frozenset(hits))
        return found

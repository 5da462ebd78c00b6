"""Okapi BM25 over memory text: the lexical baseline the product is measured against."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"[a-z0-9_]+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class BM25:
    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self._docs = [Counter(tokens(doc)) for doc in documents]
        self._lengths = [sum(doc.values()) for doc in self._docs]
        self._average = sum(self._lengths) / max(1, len(self._lengths))
        frequency: Counter[str] = Counter()
        for doc in self._docs:
            frequency.update(doc.keys())
        count = len(self._docs)
        self._idf = {term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}
        self._k1 = k1
        self._b = b

    def scores(self, query: str) -> list[float]:
        terms = tokens(query)
        result = []
        for doc, length in zip(self._docs, self._lengths, strict=True):
            score = 0.0
            norm = self._k1 * (1 - self._b + self._b * length / self._average)
            for term in terms:
                frequency = doc.get(term, 0)
                if frequency:
                    score += self._idf[term] * frequency * (self._k1 + 1) / (frequency + norm)
            result.append(score)
        return result

"""The text source: a ridge regression of the year on a record's title and description (any language).

Character n-grams (2-4, inside words) catch stems and spelling across Spanish and English; word
uni- and bigrams catch names and events. Both go through a stateless HashingVectorizer, so the fitted
state is two idf vectors and one weight vector (saved as .npz, no pickles) and 100k records fit in
seconds. Date phrases (db.dates.find_dates) and any other year-like number are masked before fitting
and predicting: the text model learns vocabulary; explicit dates are their own source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import Ridge

from db.dates import find_dates
from modeling.evidence.base import Estimates

N_FEATURES = 2**18  # hashed columns per analyser: few collisions at the vocabularies of an archive's catalogue
RIDGE_ALPHA = 1.0  # ridge penalty on tf-idf rows of unit length
DATE_MASK = " fechado "  # what a date phrase becomes: the model may learn that a date was written, never which
_YEAR_LIKE = re.compile(r"\b(1[6-9]\d\d|20\d\d)\b")


def mask_dates(text: str) -> str:
    """`text` with every date phrase (and any other year-like number) replaced by DATE_MASK.

    >>> mask_dates("Feria de abril, hacia 1940")
    'Feria de abril,  fechado '
    """
    pieces, at = [], 0
    for found in find_dates(text):
        pieces += [text[at:found.start], DATE_MASK]
        at = found.end
    pieces.append(text[at:])
    return _YEAR_LIKE.sub(DATE_MASK, "".join(pieces))


def record_text(title: str | None, description: str | None) -> str:
    """The text a record is dated from: its title and description, dates masked ("" when it has none)."""
    return mask_dates(" . ".join(t.strip() for t in (title, description) if t and t.strip()))


def _vectorizers() -> tuple[HashingVectorizer, HashingVectorizer]:
    common = {"n_features": N_FEATURES, "alternate_sign": False, "norm": None, "lowercase": True,
              "strip_accents": "unicode"}
    # character 2-4-grams: on the real photographs' titles 3-4-grams were a third faster but gave a text MAE of
    # 6.7 years against 6.0 (benchmarks/evidence.py)
    return (HashingVectorizer(analyzer="char_wb", ngram_range=(2, 4), **common),
            HashingVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w\w+\b", **common))


def _counts(texts: list[str]) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    chars, words = _vectorizers()
    return chars.transform(texts), words.transform(texts)


def _idf(counts: sparse.csr_matrix) -> np.ndarray:
    """Smoothed idf, as scikit-learn's TfidfTransformer: ln((1 + n) / (1 + df)) + 1."""
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    return (np.log((1.0 + counts.shape[0]) / (1.0 + df)) + 1.0).astype(np.float32)


def _weigh(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Sublinear tf times idf, rows scaled to unit length (TfidfTransformer(sublinear_tf=True)'s transform)."""
    weighted = counts.astype(np.float64)
    weighted.data = 1.0 + np.log(weighted.data)
    weighted = weighted @ sparse.diags(idf.astype(np.float64))
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    return sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ weighted


@dataclass(frozen=True)
class TextModel:
    idf_chars: np.ndarray  # (N_FEATURES,) idf of the character n-grams
    idf_words: np.ndarray  # (N_FEATURES,) idf of the word n-grams
    weight: np.ndarray  # (2 * N_FEATURES,) ridge weights on the [chars, words] tf-idf
    intercept: float  # the ridge's intercept (a year)

    @classmethod
    def fit(cls, texts: list[str], years: np.ndarray) -> TextModel:
        """Fit on masked texts (record_text) and their years."""
        chars, words = _counts(texts)
        idf_chars, idf_words = _idf(chars), _idf(words)
        matrix = sparse.hstack([_weigh(chars, idf_chars), _weigh(words, idf_words)], format="csr")
        # lsqr to a 1e-3 tolerance: on 50k titles half the time of 1e-4, the same held-out error
        ridge = Ridge(alpha=RIDGE_ALPHA, solver="lsqr", tol=1e-3).fit(matrix, np.asarray(years, dtype=float))
        return cls(idf_chars, idf_words, ridge.coef_.astype(np.float32), float(ridge.intercept_))

    def _matrix(self, texts: list[str]) -> sparse.csr_matrix:
        chars, words = _counts(texts)
        return sparse.hstack([_weigh(chars, self.idf_chars), _weigh(words, self.idf_words)], format="csr")

    def estimate(self, texts: list[str]) -> Estimates:
        """The year each text suggests; a text without a word (empty after masking) is absent."""
        present = np.array([bool(re.search(r"\w\w", t.replace(DATE_MASK.strip(), ""))) for t in texts], dtype=bool)
        years = self._matrix(texts) @ self.weight.astype(np.float64) + self.intercept if texts else np.zeros(0)
        return Estimates(np.asarray(years, dtype=float), np.ones(len(texts)), present)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, idf_chars=self.idf_chars, idf_words=self.idf_words, weight=self.weight,
                            intercept=np.array(self.intercept))

    @classmethod
    def load(cls, path: Path) -> TextModel:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["idf_chars"], data["idf_words"], data["weight"], float(data["intercept"]))

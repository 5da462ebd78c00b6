"""The learned ranking: features of (moment, memory) that a person can read, one logistic model.

Every candidate the pool returns for a moment is described by a few features (below), each one a
reason a person could give for showing it: how similar it is to what the editor shows and to the plan
recognised in it, how many of the moment's rarer words it shares (BM25 over the candidates), its kind
and outcome, whether it was learned in the same language or ecosystem, whether the problem family
recognised in the moment is the one it talks about, and the user's feedback. A logistic regression
over them, trained on the evaluation's dev split with cross-validation (``python -m eval train``),
gives each candidate a probability of helping; the "why this?" line names the features that
contributed most.

Feedback is training signal for the same model, per pool: each pin, rejection or vote on a memory
that was shown is one pairwise example (the features it was shown with against the moment's other
candidates: above them for pin/helpful, below for reject/unhelpful); :class:`FeedbackModel` keeps a
small correction of the weights learned from them (one gradient step each, pulled back toward the
shipped model) in ``ranker-feedback.json`` next to the
pool, plus the memory's own vote balance as a feature.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import numpy as np

from carryover.pool.locking import PoolLock
from carryover.pool.records import Kind, Memory, Outcome, Status
from carryover.vocabulary import languages

logger = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).resolve().parent / "ranker.json"
FEEDBACK_FILE = "ranker-feedback.json"
FEEDBACK_LOCK_FILE = "ranker-feedback.lock"
_UPDATE_LOCK = threading.Lock()

KINDS = (Kind.INSIGHT, Kind.SUMMARY, Kind.WORKFLOW, Kind.TRAJECTORY)
PROCEDURAL = frozenset({Kind.TRAJECTORY, Kind.WORKFLOW})
RELATIONS = ("same", "ecosystem", "other", "none")

FEATURES: tuple[str, ...] = (
    "cos_text",
    "cos_plan",
    "has_plan",
    "bm25",
    "kind_insight",
    "kind_summary",
    "kind_workflow",
    "kind_trajectory",
    "failure",
    "lang_same",
    "lang_ecosystem",
    "lang_other",
    "lang_none",
    "family_shared",
    "family_differs",
    "pinned",
    "votes",
)
"""The feature names, in the model's order."""

LABELS = {
    "cos_text": "close to what the editor shows",
    "cos_plan": "close to the problem recognised",
    "bm25": "shares the moment's rarer words",
    "kind_insight": "an insight",
    "kind_summary": "a summary",
    "kind_workflow": "a workflow",
    "kind_trajectory": "a trajectory",
    "failure": "a failure's lesson",
    "lang_same": "same language",
    "lang_ecosystem": "same ecosystem",
    "lang_other": "learned in another language",
    "lang_none": "language-independent",
    "family_shared": "the same kind of problem",
    "family_differs": "another kind of problem",
    "pinned": "pinned",
    "votes": "your votes",
}
"""What each feature means in the "why this?" line."""

_TOKEN = re.compile(r"[a-z0-9_]+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def bm25_scores(query: str, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """Okapi BM25 of ``query`` over ``documents`` (the candidates: their own corpus statistics)."""
    docs = [Counter(tokens(doc)) for doc in documents]
    if not docs:
        return np.zeros(0)
    lengths = np.array([sum(doc.values()) for doc in docs], dtype=np.float64)
    average = max(1.0, float(lengths.mean()))
    frequency: Counter[str] = Counter()
    for doc in docs:
        frequency.update(doc.keys())
    count = len(docs)
    scores = np.zeros(count)
    for term in dict.fromkeys(tokens(query)):
        df = frequency.get(term, 0)
        if not df:
            continue
        idf = math.log(1 + (count - df + 0.5) / (df + 0.5))
        for index, doc in enumerate(docs):
            tf = doc.get(term, 0)
            if tf:
                norm = k1 * (1 - b + b * lengths[index] / average)
                scores[index] += idf * tf * (k1 + 1) / (tf + norm)
    return scores


def memory_text(memory: Memory) -> str:
    return f"{memory.title}\n{memory.description}\n{memory.content}"


def language_relation(language: str | None, memory: Memory) -> str:
    """same / ecosystem / other / none (either side has no language)."""
    here = languages.canonical(language)
    learned = [languages.canonical(item) or item for item in memory.languages]
    if not here or not learned:
        return "none"
    if here in learned:
        return "same"
    if any(languages.same_ecosystem(here, other) for other in learned):
        return "ecosystem"
    return "other"


def vote_balance(memory: Memory) -> float:
    """A smoothed balance of helpful over unhelpful votes, in (-1, 1)."""
    return (memory.helpful - memory.unhelpful) / (memory.helpful + memory.unhelpful + 2)


@attrs.frozen
class MomentSignals:
    """What the features need of the moment (computed once per moment)."""

    language: str | None
    text: str
    has_plan: bool
    families: frozenset[str]


def feature_rows(
    signals: MomentSignals,
    memories: Sequence[Memory],
    similarities: np.ndarray,
    memory_families: Sequence[frozenset[str]],
) -> np.ndarray:
    """One row of :data:`FEATURES` per memory. ``similarities`` has shape (n, 1) or (n, 2): cosine
    to the moment's text and, when there is a plan, to the plan."""
    count = len(memories)
    rows = np.zeros((count, len(FEATURES)), dtype=np.float64)
    if not count:
        return rows
    bm25 = bm25_scores(signals.text, [memory_text(memory) for memory in memories])
    top = float(bm25.max()) if bm25.size else 0.0
    column = {name: index for index, name in enumerate(FEATURES)}
    for row, memory in enumerate(memories):
        values = rows[row]
        values[column["cos_text"]] = float(similarities[row, 0])
        if signals.has_plan and similarities.shape[1] > 1:
            values[column["cos_plan"]] = float(similarities[row, 1])
            values[column["has_plan"]] = 1.0
        values[column["bm25"]] = float(bm25[row]) / top if top > 0 else 0.0
        values[column[f"kind_{memory.kind.value}"]] = 1.0
        values[column["failure"]] = 1.0 if memory.outcome is Outcome.FAILURE else 0.0
        values[column[f"lang_{language_relation(signals.language, memory)}"]] = 1.0
        families = memory_families[row]
        if signals.families and families:
            shared = bool(signals.families & families)
            values[column["family_shared" if shared else "family_differs"]] = 1.0
        values[column["pinned"]] = 1.0 if memory.status is Status.PINNED else 0.0
        values[column["votes"]] = vote_balance(memory)
    return rows


@attrs.frozen
class RankerModel:
    """A logistic regression over standardised features: ``logit = ((x - mean) / scale) · w + b``."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    trained_on: str = ""

    def logits(self, rows: np.ndarray, delta: np.ndarray | None = None) -> np.ndarray:
        weights = np.asarray(self.weights) if delta is None else np.asarray(self.weights) + delta
        return np.asarray(self.standardise(rows) @ weights + self.bias)

    def standardise(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray((rows - np.asarray(self.mean)) / np.asarray(self.scale))

    def contributions(self, row: np.ndarray) -> list[tuple[str, float]]:
        """Each feature's share of the logit, largest first."""
        parts = self.standardise(row[None, :])[0] * np.asarray(self.weights)
        order = np.argsort(-parts)
        return [(self.features[index], float(parts[index])) for index in order]

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> RankerModel:
        def floats(name: str) -> tuple[float, ...]:
            value = raw[name]
            if not isinstance(value, list):
                raise ValueError(f"ranker model: {name} must be a list")
            return tuple(float(item) for item in value)

        features = raw["features"]
        if not isinstance(features, list) or tuple(features) != FEATURES:
            raise ValueError(f"ranker model: features {features!r} are not {FEATURES!r}")
        bias = raw["bias"]
        if not isinstance(bias, (int, float)):
            raise ValueError("ranker model: bias must be a number")
        model = cls(
            features=FEATURES,
            mean=floats("mean"),
            scale=floats("scale"),
            weights=floats("weights"),
            bias=float(bias),
            trained_on=str(raw.get("trained_on") or ""),
        )
        if not len(model.mean) == len(model.scale) == len(model.weights) == len(FEATURES):
            raise ValueError("ranker model: vectors do not match the features")
        return model

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")


_LOADED: dict[Path, RankerModel] = {}
_LOAD_LOCK = threading.Lock()


def load_model(path: Path = MODEL_PATH) -> RankerModel:
    """The shipped model (read once per path)."""
    with _LOAD_LOCK:
        model = _LOADED.get(path)
        if model is None:
            model = RankerModel.from_json(json.loads(path.read_text(encoding="utf-8")))
            _LOADED[path] = model
        return model


def fit(
    rows: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None = None,
    l2: float = 1.0,
    trained_on: str = "",
) -> RankerModel:
    """Weighted, L2-regularised logistic regression by Newton's method (numpy only)."""
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([(rows - mean) / scale, np.ones((len(rows), 1))])
    w = np.ones(len(rows)) if weights is None else weights
    beta = np.zeros(z.shape[1])
    penalty = np.r_[np.full(z.shape[1] - 1, l2), 0.0]
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        gradient = z.T @ (w * (p - labels)) + penalty * beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return RankerModel(
        features=FEATURES,
        mean=tuple(float(x) for x in mean),
        scale=tuple(float(x) for x in scale),
        weights=tuple(float(x) for x in beta[:-1]),
        bias=float(beta[-1]),
        trained_on=trained_on,
    )


SIMILARITY_FEATURES = ("cos_text", "cos_plan", "has_plan", "bm25")
LEARNED_FROM_FEEDBACK = np.asarray([0.0 if name in SIMILARITY_FEATURES else 1.0 for name in FEATURES])
"""Feedback corrects what a memory is (kind, outcome, language relation, problem kind, votes), never
how much closeness counts: a rejected look-alike is close to the moment, as the right memory is."""
FEEDBACK_NEIGHBOURS = 10
"""A rejected (or pinned) memory is compared with the moment's next-best candidates, this many."""


@attrs.define
class FeedbackModel:
    """The pool's own correction of the shipped weights, learned from its pins, rejections and
    votes (one gradient step per event, pulled back toward zero so one vote cannot flip the model).
    Stored as JSON beside the pool; absent means no correction."""

    delta: np.ndarray = attrs.field(factory=lambda: np.zeros(len(FEATURES)))
    events: int = 0
    learning_rate: float = 0.1
    pull: float = 0.05

    def learn(self, model: RankerModel, row: np.ndarray, label: float, others: np.ndarray) -> None:
        """One step on "the memory shown with ``row`` belongs above (label 1: a pin, a helpful vote) or
        below (label 0: a rejection, an unhelpful vote) the moment's other candidates ``others``".
        Pairwise: what the memory shares with the other candidates (being close to the moment, its
        words) cancels, so rejecting a look-alike does not teach that closeness is bad."""
        if not len(others):
            return
        weights = np.asarray(model.weights) + self.delta
        others = np.atleast_2d(others)
        nearest = others[np.argsort(-model.logits(others, self.delta))[:FEEDBACK_NEIGHBOURS]]
        differences = model.standardise(row[None, :])[0] - model.standardise(nearest)
        sign = 1.0 if label >= 0.5 else -1.0
        margins = np.clip(sign * (differences @ weights), -30.0, 30.0)
        gradient = -(sign / (1.0 + np.exp(margins)))[:, None] * differences
        self.delta = (1 - self.pull) * self.delta - self.learning_rate * gradient.mean(
            axis=0
        ) * LEARNED_FROM_FEEDBACK
        self.events += 1

    @classmethod
    def load(cls, directory: Path | None) -> FeedbackModel:
        if directory is None:
            return cls()
        path = directory / FEEDBACK_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as error:
            logger.warning("ignoring the ranker feedback in %s: %s", path, error)
            return cls()
        try:
            saved = dict(zip([str(name) for name in raw["features"]], map(float, raw["delta"]), strict=True))
            events = int(raw.get("events", 0))
        except (KeyError, TypeError, ValueError) as error:
            logger.warning("ignoring the ranker feedback in %s: %s", path, error)
            return cls()
        if list(saved) != list(FEATURES):
            kept = sorted(set(saved) & set(FEATURES))
            logger.info("ranker feedback in %s was for other features; kept %d of them", path, len(kept))
        delta = np.array([saved.get(name, 0.0) for name in FEATURES], dtype=np.float64)
        if not np.all(np.isfinite(delta)):
            logger.warning("ignoring the ranker feedback in %s: a weight is not a number", path)
            return cls()
        return cls(delta=delta, events=events)

    @classmethod
    def update(cls, directory: Path, change: Callable[[FeedbackModel], None]) -> FeedbackModel:
        """Load, ``change`` and save the pool's correction as one step: under a file lock, so two
        processes on one pool (two editor windows, an agent's MCP server) never lose each other's
        events."""
        with _UPDATE_LOCK, PoolLock(directory / FEEDBACK_LOCK_FILE).hold():
            correction = cls.load(directory)
            change(correction)
            correction.save(directory)
            return correction

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"features": list(FEATURES), "delta": [float(x) for x in self.delta], "events": self.events}
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".ranker-feedback-")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream)
        os.replace(temporary, directory / FEEDBACK_FILE)


def explain(model: RankerModel, row: np.ndarray, relation: str, origin: str, limit: int = 3) -> str:
    """The "why this?" reasons: the features that raised the score most, and the language relation."""
    present = {name for name, value in zip(model.features, row, strict=True) if value}
    reasons = [
        LABELS[name]
        for name, part in model.contributions(row)
        if part > 0.05 and name in present and name in LABELS and not name.startswith("lang_")
    ]
    place = {
        "same": f"same language ({origin})",
        "ecosystem": f"same ecosystem ({origin})",
        "other": f"transferred from {origin}",
        "none": "general",
    }[relation]
    return " · ".join([place, *reasons[:limit]])

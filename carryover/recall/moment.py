"""The one way into retrieval: an editor *moment* in, the memories that apply out.

The hover, the code actions, the ``carryover.suggest`` command, ``carryover search``, the MCP
server and the evaluation all describe what they see as a :class:`Moment` and call :func:`suggest`,
so what the CLI and the evaluation measure is exactly what the hover shows.

``suggest`` is synchronous (embedding and storage): the language server runs it in a worker thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import attrs
import numpy as np

from carryover.pool.config import RankingConfig
from carryover.pool.ranking import CandidatePool, transfer_guard
from carryover.pool.records import Kind, Memory, RankReason, SearchHit, SearchQuery, Status
from carryover.recall import ranker
from carryover.recall.query import EditorContext, plan_text, query_text, query_tools
from carryover.recall.retrieve import MIN_LINE_CHARS, Probe, Suggestion, line_probes, merge
from carryover.recall.signals import sites_on_line
from carryover.vocabulary import languages
from carryover.vocabulary.output import error_line
from carryover.vocabulary.problems import match_families

ALL_SCOPES = ("project", "global", "team")
RELEVANCE_THRESHOLD = 0.25
"""The legacy ranking's lowest score where the moment carries a problem (``RecallOptions(learned=
False)`` only: the learned ranking has no similarity floor)."""
PLAIN_LINE_THRESHOLD = 0.45
"""The legacy ranking's lowest score for a plain line of code."""
CANDIDATES = 40
"""How many memories the pool returns for the ranker to order."""
OVER_FETCH = 3
PINNED_LIFT = 0.1
"""What a pin adds to a memory's score (the model's probability)."""
"""When some scopes are hidden, each search asks for this many times more, then filters."""


@attrs.frozen
class Diagnostic:
    message: str
    source: str = ""
    code: str = ""


@attrs.frozen
class FailedRun:
    """The workspace's last command that failed, with what it printed (head and tail, bounded)."""

    command: str
    output: str = ""
    exit_code: int | None = 1
    error_line: str | None = attrs.field(default=None)

    @property
    def telling_line(self) -> str | None:
        return self.error_line or (error_line(self.output) if self.output else None)


def _lines(value: Sequence[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Moment:
    """What the editor sees at one moment. ``lines`` is the document (or the lines around the
    cursor) and ``line`` the index of the line in question; a free-text search is a one-line moment."""

    language: str | None = attrs.field(default=None, converter=languages.canonical)
    lines: tuple[str, ...] = attrs.field(default=(), converter=_lines)
    line: int = 0
    diagnostics: tuple[Diagnostic, ...] = ()
    failed_run: FailedRun | None = None
    workspace: str | None = None
    typed: bool = False
    """A search someone typed (``carryover search``, MCP): it always answers, evidence or not."""

    @classmethod
    def of_text(cls, text: str, **fields: object) -> Moment:
        return cls(lines=(text,), line=0, typed=True, **fields)  # type: ignore[arg-type]

    @property
    def line_text(self) -> str:
        return self.lines[self.line] if 0 <= self.line < len(self.lines) else ""


@attrs.frozen
class RecallOptions:
    k: int = 3
    threshold: float | None = RELEVANCE_THRESHOLD
    """Legacy ranking only (``learned=False``)."""
    plain_threshold: float | None = PLAIN_LINE_THRESHOLD
    """Legacy ranking only (``learned=False``)."""
    scopes: tuple[str, ...] = ALL_SCOPES
    kinds: tuple[Kind, ...] = ()
    evidence: bool = True
    """Speak only where the moment carries a problem (a diagnostic, a failed run, a code situation
    recognised on the line). A typed search (``carryover search``, MCP) sets it False."""
    learned: bool = True
    """The learned ranking (False: the legacy hand-weighted probes with their thresholds)."""
    model: ranker.RankerModel | None = None
    """The ranking model (None: the shipped one)."""
    feedback: bool = True
    """Apply the pool's own feedback correction (``ranker-feedback.json`` beside the pool)."""
    candidates: int = CANDIDATES
    min_score: float = 0.0
    """Learned ranking: the lowest score (the model's probability, 0-1) shown. 0: the evidence rule
    alone decides whether to speak, the model only orders (what the evaluation measures)."""


class Searcher(Protocol):
    def search(self, query: SearchQuery) -> list[SearchHit]: ...


CandidateSource = CandidatePool
"""A pool that returns candidates for the ranker (the pool's one protocol of it)."""


def probes_for(moment: Moment, options: RecallOptions) -> list[Probe]:
    """The searches a moment makes: one for the whole moment, one per code situation on the line."""
    run = moment.failed_run
    probes = line_probes(
        language=moment.language,
        line_text=moment.line_text,
        diagnostics=[diagnostic.message for diagnostic in moment.diagnostics],
        sites=sites_on_line(moment.lines, moment.line) if moment.line_text.strip() else [],
        failing_command=run.command if run is not None else None,
        failing_error_line=run.telling_line if run is not None else None,
        workspace=moment.workspace or None,
        threshold=options.threshold,
        plain_threshold=options.plain_threshold,
        k=options.k,
    )
    if options.kinds:
        probes = [Probe(attrs.evolve(probe.query, kinds=options.kinds), probe.basis) for probe in probes]
    return probes


def run_probes(
    store: Searcher, probes: Sequence[Probe], scopes: Sequence[str] = ALL_SCOPES
) -> list[tuple[Probe, list[SearchHit]]]:
    """Each probe searched, keeping only memories of the allowed ``scopes`` (over-fetching when some
    are hidden, so that hiding them does not leave the answer short)."""
    hidden = bool(set(ALL_SCOPES) - set(scopes))
    results: list[tuple[Probe, list[SearchHit]]] = []
    for probe in probes:
        query = attrs.evolve(probe.query, k=probe.query.k * OVER_FETCH) if hidden else probe.query
        hits = [hit for hit in store.search(query) if hit.memory.scope.value in scopes]
        results.append((probe, hits[: probe.query.k]))
    return results


def context_of(moment: Moment) -> EditorContext:
    """The moment as the query builder sees it: the line's code, its diagnostics, the failed run."""
    run = moment.failed_run
    code = moment.line_text.strip()
    return EditorContext(
        language=moment.language,
        code_line=code if len(code) >= MIN_LINE_CHARS else None,
        diagnostic="; ".join(diagnostic.message for diagnostic in moment.diagnostics) or None,
        failing_command=run.command if run is not None else None,
        error_line=run.telling_line if run is not None else None,
        workspace=moment.workspace or None,
    )


def evidence_of(moment: Moment) -> list[str]:
    """What shows that the moment carries a problem: its diagnostics, its failed run, a code
    situation recognised on the line. Empty for a plain line: the hover stays quiet there."""
    found = []
    if moment.diagnostics:
        found.append("the diagnostic on this line")
    elif len(moment.line_text.strip()) >= MIN_LINE_CHARS and moment.failed_run is not None:
        found.append("the code on this line")
    if moment.failed_run is not None:
        found.append(f"the failing command `{moment.failed_run.command.strip()[:60]}`")
    if moment.line_text.strip():
        for situation in dict.fromkeys(site.situation for site in sites_on_line(moment.lines, moment.line)):
            found.append(f"this line ({situation.label})")
    return found


def basis_of(moment: Moment, evidence: Sequence[str]) -> str:
    if evidence:
        return " and ".join(evidence)
    return "the code on this line" if moment.line_text.strip() else "the search"


_FAMILIES: OrderedDict[tuple[str, str], frozenset[str]] = OrderedDict()
_FAMILIES_LOCK = threading.Lock()
_FAMILIES_CAPACITY = 4096


def memory_families(memory: Memory) -> frozenset[str]:
    """The problem families recognised in a memory's text (cached by id and update time)."""
    key = (memory.id, memory.updated_at.isoformat())
    with _FAMILIES_LOCK:
        known = _FAMILIES.get(key)
    if known is not None:
        return known
    found = frozenset(
        family.name for family in match_families([memory.title, memory.description, memory.content])
    )
    with _FAMILIES_LOCK:
        _FAMILIES[key] = found
        while len(_FAMILIES) > _FAMILIES_CAPACITY:
            _FAMILIES.popitem(last=False)
    return found


@attrs.frozen
class Ranked:
    """The candidates of one moment with their features (what ``suggest`` orders; the evaluation
    trains on it)."""

    memories: tuple[Memory, ...]
    rows: np.ndarray
    relations: tuple[str, ...]
    text: str
    basis: str


def pool_dir(store: object) -> Path | None:
    config = getattr(store, "config", None)
    if getattr(store, "remote", False) or config is None:
        return None
    directory = getattr(config, "pool_dir", None)
    return Path(directory) if directory is not None else None


def query_texts(moment: Moment) -> list[str]:
    """The texts a moment is searched by (its query and, when a problem is recognised, the plan):
    what :func:`candidates_for` embeds, and what :func:`warm` embeds ahead of a hover."""
    context = context_of(moment)
    text = query_text(context)
    if not text:
        return []
    plan = plan_text(context)
    return [text, plan] if plan else [text]


def warm(store: CandidateSource, moment: Moment) -> int:
    """Embed the moment's query texts into the pool's query cache, so that a hover on it later
    only searches. Returns how many texts it embedded (0: nothing to search for)."""
    texts = query_texts(moment)
    if texts:
        store.embed_query(texts)
    return len(texts)


def candidates_for(store: CandidateSource, moment: Moment, options: RecallOptions) -> Ranked | None:
    """The pool's candidates for ``moment`` with their features; None when there is nothing to
    search for. Procedures (trajectories, workflows) from another ecosystem are withheld (the
    labelling rule and the paper: raw traces mislead across languages)."""
    context = context_of(moment)
    texts = query_texts(moment)
    if not texts:
        return None
    text, plan = texts[0], (texts[1] if len(texts) > 1 else "")
    vectors = store.embed_query(texts)
    hidden = bool(set(ALL_SCOPES) - set(options.scopes))
    limit = max(options.candidates, options.k) * (OVER_FETCH if hidden else 1)
    found = store.candidates(vectors, kinds=options.kinds, workspace=moment.workspace or None, limit=limit)
    config = getattr(getattr(store, "config", None), "ranking", None)
    ranking = config if isinstance(config, RankingConfig) else RankingConfig()
    guard_query = SearchQuery(text=text, language=moment.language, tools=query_tools(context))
    memories: list[Memory] = []
    similarities: list[np.ndarray] = []
    relations: list[str] = []
    for memory, sims in found:
        if memory.scope.value not in options.scopes or memory.status is Status.REJECTED:
            continue
        allowed, _factor, _why = transfer_guard(memory, guard_query, ranking)
        if not allowed:
            continue
        memories.append(memory)
        similarities.append(np.atleast_1d(np.asarray(sims, dtype=np.float64)))
        relations.append(ranker.language_relation(moment.language, memory))
    families = frozenset(
        family.name
        for family in match_families(
            [context.diagnostic, context.error_line, context.code_line, context.failing_command]
        )
    )
    signals = ranker.MomentSignals(moment.language, text, bool(plan), families)
    sims = np.vstack(similarities) if similarities else np.zeros((0, 2 if plan else 1))
    rows = ranker.feature_rows(signals, memories, sims, [memory_families(memory) for memory in memories])
    return Ranked(tuple(memories), rows, tuple(relations), text, basis_of(moment, evidence_of(moment)))


def _probability(logit: float) -> float:
    return 1.0 / (1.0 + float(np.exp(-logit)))


def rank_candidates(
    ranked: Ranked,
    options: RecallOptions,
    model: ranker.RankerModel,
    correction: ranker.FeedbackModel | None = None,
) -> list[Suggestion]:
    if not ranked.memories:
        return []
    delta = correction.delta if correction is not None and correction.events else None
    logits = model.logits(ranked.rows, delta)
    # A pin is the person's word: it lifts the memory by a fixed amount (the model, trained on a set
    # without pins, gives the pinned feature little weight).
    probabilities = [
        min(
            1.0,
            1.0 / (1.0 + float(np.exp(-logit))) + (PINNED_LIFT if memory.status is Status.PINNED else 0.0),
        )
        for logit, memory in zip(logits, ranked.memories, strict=True)
    ]
    order = sorted(
        range(len(ranked.memories)), key=lambda index: (-probabilities[index], ranked.memories[index].id)
    )
    query = SearchQuery(text=ranked.text, k=options.k)
    suggestions = []
    for index in order[: options.k]:
        memory = ranked.memories[index]
        probability = probabilities[index]
        origin = ", ".join(dict.fromkeys(languages.canonical(item) or item for item in memory.languages))
        why = RankReason(
            similarity=round(float(ranked.rows[index, 0]), 4),
            abstraction_weight=1.0,
            feedback=round(float(ranked.rows[index, ranker.FEATURES.index("votes")]), 4),
            guard=ranker.explain(model, ranked.rows[index], ranked.relations[index], origin),
            pinned=memory.status is Status.PINNED,
        )
        if probability < options.min_score:
            break
        hit = SearchHit(memory=memory, score=round(probability, 4), why=why)
        suggestions.append(Suggestion(hit, ranked.basis, query))
    return suggestions


def suggest(store: Searcher, moment: Moment, options: RecallOptions | None = None) -> list[Suggestion]:
    """The memories for ``moment``, best first, at most ``options.k``; each memory once, with what
    it was found from and why it ranks (its "why this?").

    Nothing where an editor moment carries no problem (no diagnostic, failed run or recognised code
    situation) unless ``options.evidence`` is off; a typed search always answers. Ranked by the
    learned model over the pool's candidates; a pool without candidates (or ``learned=False``) uses
    the legacy probes."""
    options = options or RecallOptions()
    if options.evidence and not moment.typed and not evidence_of(moment):
        return []
    if not options.learned or not isinstance(store, CandidateSource):
        return merge(run_probes(store, probes_for(moment, options), options.scopes), options.k)
    return learned_order(store, moment, options) or []


def learned_order(store: CandidateSource, moment: Moment, options: RecallOptions) -> list[Suggestion] | None:
    """The learned ranking's top ``options.k`` for ``moment`` (the pool's feedback correction
    applied when ``options.feedback``); None when there is nothing to search for. No evidence rule:
    the caller applies it."""
    ranked = candidates_for(store, moment, options)
    if ranked is None:
        return None
    model = options.model or ranker.load_model()
    correction = ranker.FeedbackModel.load(pool_dir(store)) if options.feedback else None
    return rank_candidates(ranked, options, model, correction)


def learn_from(store: CandidateSource, moment: Moment, memory_id: str, helped: bool) -> bool:
    """The pool's feedback correction learns that the memory ``memory_id``, shown for ``moment``,
    helped (a pin) or did not (a rejection): one pairwise step against the moment's other candidates,
    saved beside the pool. Call it before the memory's status changes (a rejected memory is no
    longer a candidate). False when nothing was learned (no pool folder, or not a candidate)."""
    directory = pool_dir(store)
    if directory is None:
        return False
    options = RecallOptions(k=CANDIDATES, evidence=False)
    ranked = candidates_for(store, moment, options)
    if ranked is None:
        return False
    ids = [memory.id for memory in ranked.memories]
    if memory_id not in ids or len(ids) < 2:
        return False
    index = ids.index(memory_id)
    model = ranker.load_model()
    row, others = ranked.rows[index], np.delete(ranked.rows, index, axis=0)
    ranker.FeedbackModel.update(
        directory, lambda correction: correction.learn(model, row, 1.0 if helped else 0.0, others)
    )
    return True

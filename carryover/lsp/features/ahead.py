"""Ahead of the hover: when a diagnostic or a failed run arrives, and on the lines the user edits,
build the moment the hover would build there and embed its query texts into the pool's query cache
(``recall.moment.warm``) at background priority, so that a hover on it later only searches.

Where the user is: LSP has no cursor notification. The proxy is where the user *edits*: the lines each
``didChange`` touched (announced by sync.py), with one neighbour on each side (a hover on the line being
typed or the one just above or below). A line whose moment carries no evidence (no diagnostic, no
failed run, no recognised code situation) is skipped: the hover does not search there either, so
embedding it would be wasted work. VS Code also asks for code actions wherever the cursor moves, and
those already embed the cursor's moment (features/code_actions.py); this covers the clients that do
not, and the lines next to the cursor.

Bounded and debounced: the lines waiting are one ordered set of at most :data:`MAX_PENDING`
(document, line) pairs, the oldest dropped first; one drain task at a time waits :data:`DEBOUNCE_S`
after the first arrival (so a burst of keystrokes is one pass), builds the moments on the event loop
(cheap: the document's lines and the editor state), and embeds them in the background workers, at
most :data:`BATCH` moments per job. A failed run changes the moment of every line of its workspace:
the lines warmed are the most recent edit and diagnostic positions there (:data:`RECENT`).

The judge (recall/judge.py), where one is configured, is precomputed on the same triggers, for
diagnostics and failed runs only (an edit changes the line's text, and with it the moment, at every
keystroke): at most :data:`JUDGE_PER_TRIGGER` moments per notification (the diagnostics nearest the
last edit in that document; after a failed run the most recent positions of its workspace), at most
:data:`JUDGE_PENDING` waiting, one call in flight, each in the background workers and bounded by the
judge's own deadline. Its verdict is cached; a later hover on the moment shows it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from carryover.lsp.announce import Change, Where
from carryover.recall.moment import Moment, evidence_of, warm

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer
    from carryover.pool.store import MemoryStore

logger = logging.getLogger(__name__)

DEBOUNCE_S = 0.15
"""How long the drain waits after the first line arrives (a burst of edits is one pass)."""
MAX_PENDING = 64
"""At most this many (document, line) pairs wait; beyond it the oldest are dropped."""
BATCH = 8
"""At most this many moments per background job (a hover's job never queues behind a long one)."""
NEIGHBOURS = 1
"""Lines on each side of an edited line that are warmed too."""
RECENT = 32
"""Edit and diagnostic positions remembered per server (what a failed run re-warms)."""
AFTER_RUN = 8
"""At most this many of the recent positions are warmed when a run fails."""
JUDGE_PER_TRIGGER = 3
"""At most this many moments are judged per diagnostics notification or failed run."""
JUDGE_PENDING = 12
"""At most this many moments wait for the judge; beyond it the oldest are dropped."""

Position = tuple[str, int]


@attrs.define
class AheadStats:
    """What embed-ahead did (for the log, tests and benchmarks)."""

    announced: int = 0
    """Positions handed in."""
    dropped: int = 0
    """Positions dropped because the pending set was full."""
    skipped: int = 0
    """Moments with no evidence (the hover does not search there) or no longer in a document."""
    warmed: int = 0
    """Moments whose query texts were embedded."""
    texts: int = 0
    """Query texts embedded (or found already cached)."""
    jobs: int = 0
    """Background jobs run."""
    judge_asked: int = 0
    """Moments handed to the judge (each answered from its cache or with one call)."""
    judge_dropped: int = 0
    """Moments dropped because the judge's pending set was full."""


class Ahead:
    """The feature's state on one server."""

    def __init__(self, server: CarryoverServer) -> None:
        self.server = server
        self.pending: OrderedDict[Position, None] = OrderedDict()
        self.judge_pending: OrderedDict[Position, None] = OrderedDict()
        self.recent: OrderedDict[Position, None] = OrderedDict()
        self.stats = AheadStats()
        self._task: asyncio.Task[None] | None = None
        self.idle = asyncio.Event()
        self.idle.set()

    # ----- what arrives (on the event loop) -----------------------------------------------------

    def on_change(self, change: Change, where: Where) -> None:
        warm = self.server.settings.embed_ahead
        judging = self.server.judge_config() is not None
        if change is Change.DOCUMENT_EDITED and where.uri is not None:
            self._remember(where.uri, where.lines)
            if warm:
                self.add(where.uri, _with_neighbours(where.lines, NEIGHBOURS))
        elif change is Change.DIAGNOSTICS_ARRIVED and where.uri is not None:
            nearest = self.nearest_edit(where.uri, where.lines)
            self._remember(where.uri, where.lines)
            if warm:
                self.add(where.uri, where.lines)
            if judging:
                self.add_judged((where.uri, line) for line in nearest[:JUDGE_PER_TRIGGER])
        elif change is Change.RUN_FAILED:
            recent = self.recent_in(where.workspace)
            if warm:
                self.add_positions(recent[:AFTER_RUN])
            if judging:
                self.add_judged(recent[:JUDGE_PER_TRIGGER])
        elif change is Change.POOL_READY and (self.pending or self.judge_pending):
            self._kick()

    def nearest_edit(self, uri: str, lines: Sequence[int]) -> list[int]:
        """``lines`` ordered by their distance to the last edit in ``uri`` (as given when none)."""
        last = next((line for known, line in reversed(self.recent) if known == uri), None)
        if last is None:
            return list(lines)
        return sorted(lines, key=lambda line: (abs(line - last), line))

    def add_judged(self, positions: Iterable[Position]) -> None:
        for position in positions:
            self.stats.judge_asked += 1
            self.judge_pending.pop(position, None)
            self.judge_pending[position] = None
            while len(self.judge_pending) > JUDGE_PENDING:
                self.judge_pending.popitem(last=False)
                self.stats.judge_dropped += 1
        if self.judge_pending:
            self._kick()

    def _remember(self, uri: str, lines: Iterable[int]) -> None:
        for line in lines:
            key = (uri, line)
            self.recent.pop(key, None)
            self.recent[key] = None
        while len(self.recent) > RECENT:
            self.recent.popitem(last=False)

    def recent_in(self, workspace: str | None) -> list[Position]:
        """The recent positions (newest first) of documents in ``workspace`` (all when None)."""
        found = []
        for uri, line in reversed(self.recent):
            if workspace is not None:
                try:
                    if self.server.document(uri).workspace != workspace:
                        continue
                except Exception:  # noqa: BLE001 - a document that is gone is simply not warmed
                    continue
            found.append((uri, line))
        return found

    def add(self, uri: str, lines: Iterable[int]) -> None:
        self.add_positions((uri, line) for line in lines)

    def add_positions(self, positions: Iterable[Position]) -> None:
        for position in positions:
            self.stats.announced += 1
            self.pending.pop(position, None)
            self.pending[position] = None
            while len(self.pending) > MAX_PENDING:
                self.pending.popitem(last=False)
                self.stats.dropped += 1
        if self.pending:
            self._kick()

    def _kick(self) -> None:
        if self._task is None or self._task.done():
            self.idle.clear()
            self._task = self.server.background.spawn(self._drain(), name="embed-ahead")

    # ----- the drain (one task at a time) -------------------------------------------------------

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(DEBOUNCE_S)
            while self.pending or self.judge_pending:
                store = self.server.store.current
                if store is None:  # not open yet: POOL_READY kicks the drain again
                    return
                if self.pending:  # embedding first: it is quick and every hover gains from it
                    await self._warm(store)
                else:
                    await self._judge_one(store)
        finally:
            self.idle.set()

    async def _warm(self, store: MemoryStore) -> None:
        batch = [self.pending.popitem(last=False)[0] for _ in range(min(BATCH, len(self.pending)))]
        moments = self.moments(batch)
        if not moments:
            return
        self.stats.jobs += 1
        texts = await self.server.workers.run(warm_all, store, moments, background=True)
        self.stats.warmed += len(moments)
        self.stats.texts += texts
        logger.debug("embedded ahead: %d moments, %d query texts", len(moments), texts)

    async def _judge_one(self, store: MemoryStore) -> None:
        position = self.judge_pending.popitem(last=False)[0]
        judge = self.server.judge()
        if judge is None:  # switched off meanwhile
            self.judge_pending.clear()
            return
        moments = self.moments([position])
        if not moments:
            return
        searcher = await self.server.searcher(store)
        options = self.server.recall_options()
        verdict = await self.server.workers.run(judge.judge, searcher, moments[0], options, background=True)
        if verdict is not None:
            logger.debug("judged ahead: kept %d of %d candidates", len(verdict.keep), verdict.judged)

    def moments(self, positions: Sequence[Position]) -> list[Moment]:
        """The moments the hover would build at ``positions`` now, those with evidence only."""
        found: list[Moment] = []
        seen: set[Moment] = set()
        for uri, line in positions:
            try:
                info = self.server.document(uri)
            except Exception:  # noqa: BLE001 - closed meanwhile: nothing to warm
                self.stats.skipped += 1
                continue
            if info.excluded or not 0 <= line < len(info.lines):
                self.stats.skipped += 1
                continue
            moment = self.server.moment_at(info, line)
            if not evidence_of(moment) or moment in seen:
                self.stats.skipped += 1
                continue
            seen.add(moment)
            found.append(moment)
        return found


def warm_all(store: MemoryStore, moments: Sequence[Moment]) -> int:
    """Embed each moment's query texts (in a worker thread); returns how many texts."""
    return sum(warm(store, moment) for moment in moments)


def _with_neighbours(lines: Iterable[int], around: int) -> list[int]:
    found: dict[int, None] = {}
    for line in lines:
        for near in (line, *(line + step for step in range(-around, around + 1) if step)):
            if near >= 0:
                found[near] = None
    return list(found)


_AHEAD: weakref.WeakKeyDictionary[CarryoverServer, Ahead] = weakref.WeakKeyDictionary()


def of(server: CarryoverServer) -> Ahead | None:
    """The feature's state on ``server`` (None when it is not registered)."""
    return _AHEAD.get(server)


def register(server: CarryoverServer) -> None:
    ahead = Ahead(server)
    _AHEAD[server] = ahead
    server.announcer.subscribe_where(
        ahead.on_change,
        Change.DOCUMENT_EDITED,
        Change.DIAGNOSTICS_ARRIVED,
        Change.RUN_FAILED,
        Change.POOL_READY,
    )

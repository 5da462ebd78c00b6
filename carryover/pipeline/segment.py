"""Episodes: events grouped into units of work with a goal and an outcome.

Rules (per workspace; workspaces never mix, events outside any workspace are never in an episode):

1. **A failure opens an episode.** A failure is
   - a command (``terminal.ended`` or ``shell.command``) with a non-zero exit code, unless it only
     looks around (``ls``, ``cat``, ``git status``), is a search or comparison whose non-zero exit
     means "not found"/"different" (``grep``, ``diff``, ``test``), or was interrupted (exit 130,
     141, 143);
   - an error diagnostic (severity 1) that is new for its document and *stands*: it was published
     after a save (``after_save``), it was present when the document was saved, or it stayed for
     ``diagnostic_settle_s`` (default 20 s). An error that appears while typing and goes away before
     that is noise.
   While no episode is open, every other event is left out ("-").
2. **While open, every event of the workspace joins the episode** (edits, commands, diagnostics,
   noise such as ``ls``: the trajectory). Another failure joins the episode's pending failures; the
   same command failing again counts as another attempt.
3. **A change** is a save, a file changed outside the editor, a dependency command (``npm install``,
   ``go get``, ``pip install``…) or any other non-check command that succeeded.
4. **Resolution.** A pending command failure is resolved by a later passing (exit 0) run of the same
   command family whose targets include the failing ones (``pytest tests/`` after
   ``pytest tests/test_a.py::test_b``; ``go test ./...`` after ``go test ./pkg``; ``npm test`` after
   ``npx jest x.test.js``). A pending diagnostic is resolved when its document's next publication
   (same source) no longer has it. A resolution after a change is a *fix*; a pass with no change since
   the last failure is a *re-run* (a flaky result); a diagnostic that clears with no change is
   *withdrawn* (it was not a real failure).
5. **Closing.** When nothing is pending: with at least one fix or re-run the episode is *finished*
   with outcome **success** (a validated success: the failing check passed); with only withdrawn
   failures it is dropped. An episode with failures still pending is *finished* with outcome
   **failure** when the workspace is quiet for ``gap_s`` (default 30 min: abandoned) or when it grows
   past ``max_events``.

Segmentation is re-playable: it runs over the pool's unassigned events plus the events of episodes
still open, in time order, and writes back episodes (open ones included) and each event's episode id
("-" for none). Events that may still join an episode (an error diagnostic within its settle time,
and what follows it) stay unassigned and are replayed next time. A restart, or another process that
shares the pool, therefore resumes exactly where the last run stopped; a file lock serialises runs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

import attrs

from carryover.pipeline.capture.sink import read_payload
from carryover.pipeline.events import (
    DOCUMENT_SAVED,
    FILE_CHANGED,
    DiagnosticsChanged,
    DocumentSaved,
    FileChanged,
    MalformedEvent,
    ShellCommand,
    TerminalEnded,
)
from carryover.pool.locking import PoolLock
from carryover.pool.priority import Pace, no_pace
from carryover.pool.schema import EpisodeRow, EventRow
from carryover.vocabulary import tools as commands

logger = logging.getLogger(__name__)

NO_EPISODE = "-"
OPEN = "open"
FINISHED = "finished"
DISTILLED = "distilled"
DISCARDED = "discarded"
SEGMENT_LOCK = "segment.lock"
PACE_EVERY = 64


@attrs.frozen
class SegmentConfig:
    gap_s: float = 1800.0
    diagnostic_settle_s: float = 20.0
    max_events: int = 500


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@attrs.define
class _Failure:
    key: str
    kind: str  # "command" | "diagnostic"
    label: str
    first_event: str
    failed_at: datetime
    changed_since: bool = False
    attempts: int = 1
    shape: commands.CommandShape | None = None
    source_path: str = ""


@attrs.define
class _Open:
    id: str
    workspace: str
    started_at: datetime
    last_at: datetime
    event_ids: list[str]
    pending: dict[str, _Failure] = attrs.field(factory=dict)
    labels: list[str] = attrs.field(factory=list)
    fixes: int = 0
    reruns: int = 0
    withdrawn: int = 0


@attrs.define
class _Candidate:
    key: str
    label: str
    event: EventRow
    source_path: str


def episode_id_for(workspace: str, first_event_id: str) -> str:
    digest = hashlib.sha256(f"{workspace}\x1f{first_event_id}".encode()).hexdigest()
    return f"ep_{digest[:20]}"


def _diagnostic_errors(payload: DiagnosticsChanged) -> dict[str, str]:
    """``{key: label}`` of the error diagnostics in a ``diagnostics.changed`` payload."""
    path = payload.path
    errors: dict[str, str] = {}
    for item in payload.diagnostics:
        if not item.is_error:
            continue
        message = " ".join(item.message.split())
        code = item.code
        tool = item.source or payload.source
        key = f"diag:{path}\x1f{tool}\x1f{code or message[:200]}"
        errors[key] = f"{tool + ' ' if tool else ''}error{' ' + code if code else ''} in {path}: {message}"
    return errors


class WorkspaceSegmenter:
    """The rules above for one workspace, fed events in time order."""

    def __init__(self, workspace: str, config: SegmentConfig | None = None) -> None:
        self.workspace = workspace
        self.config = config or SegmentConfig()
        self.open: _Open | None = None
        self.finished: list[EpisodeRow] = []
        self.assignment: dict[str, str] = {}
        self._diagnostics: dict[str, set[str]] = {}
        self._candidates: dict[str, _Candidate] = {}
        self._buffer: dict[str, EventRow] = {}  # held while an error may be confirmed; feed order
        self._episode_ids: set[str] = set()
        self._earliest: datetime | None = None  # of the candidates' events; None: look again
        self.malformed: list[MalformedEvent] = []

    # -- results --------------------------------------------------------------------------

    @property
    def held(self) -> set[str]:
        """Events that must stay unassigned (replayed next run)."""
        held = {candidate.event.id for candidate in self._candidates.values()}
        held.update(self._buffer)
        return held

    def _is_held(self, event_id: str) -> bool:
        return event_id in self._buffer or any(
            candidate.event.id == event_id for candidate in self._candidates.values()
        )

    def open_row(self) -> EpisodeRow | None:
        return None if self.open is None else self._row(self.open, OPEN, "")

    # -- feeding ------------------------------------------------------------------------------

    def feed(self, row: EventRow) -> None:
        episode = self.open
        if episode is not None and (row.time - episode.last_at).total_seconds() > self.config.gap_s:
            self._finish(episode, "failure")
        self._settle(row.time)
        payload = read_payload(row)
        if isinstance(payload, MalformedEvent):  # reported; joins an open episode as a plain event
            self.malformed.append(payload)
            self._attach(row)
        elif isinstance(payload, (TerminalEnded, ShellCommand)):
            self._command(row, payload)
        elif isinstance(payload, DiagnosticsChanged):
            self._diagnostics_changed(row, payload)
        elif isinstance(payload, (DocumentSaved, FileChanged)):
            self._change(row, payload)
        else:
            self._attach(row)
        self._maybe_close()

    def tick(self, now: datetime) -> None:
        """Apply the time-based rules (settled diagnostics, abandoned episodes) at ``now``."""
        self._settle(now)
        episode = self.open
        if episode is not None and (now - episode.last_at).total_seconds() > self.config.gap_s:
            self._finish(episode, "failure")

    # -- event kinds ----------------------------------------------------------------------

    def _command(self, row: EventRow, payload: TerminalEnded | ShellCommand) -> None:
        command = payload.command
        code = payload.exit_code
        if commands.failure_counts(command, code):
            shape = commands.shape(command)
            key = f"cmd:{shape.family}\x1f{' '.join(shape.targets)}"
            opened = self._ensure_open(row)
            existing = opened.pending.get(key)
            if existing is not None:
                existing.attempts += 1
                existing.failed_at = row.time
                existing.changed_since = False
            else:
                opened.pending[key] = _Failure(key, "command", command, row.id, row.time, shape=shape)
                opened.labels.append(f"make `{command}` pass")
            self._attach(row)
            return
        episode = self.open
        if episode is None:
            self._hold_or_pass(row)
            return
        self._attach(row)
        if code != 0:
            return
        passing = commands.shape(command)
        resolved_any = False
        for key, failure in list(episode.pending.items()):
            if (
                failure.kind == "command"
                and failure.shape is not None
                and commands.validates(passing, failure.shape)
            ):
                self._resolve(episode, key, fixed=failure.changed_since)
                resolved_any = True
        if not resolved_any and (
            commands.is_install(command) or not (commands.is_noise(command) or commands.is_check(command))
        ):
            self._mark_changed(episode)

    def _diagnostics_changed(self, row: EventRow, payload: DiagnosticsChanged) -> None:
        scope = f"{payload.source}\x1f{payload.path}"
        errors = _diagnostic_errors(payload)
        previous = self._diagnostics.get(scope, set())
        self._diagnostics[scope] = set(errors)
        episode = self.open
        # Cleared: pending failures and candidates of this document that are gone now.
        if episode is not None:
            for key, failure in list(episode.pending.items()):
                if failure.kind == "diagnostic" and failure.source_path == scope and key not in errors:
                    if failure.changed_since:
                        self._resolve(episode, key, fixed=True)
                    else:
                        del episode.pending[key]
                        episode.withdrawn += 1
        for key, candidate in list(self._candidates.items()):
            if candidate.source_path == scope and key not in errors:
                del self._candidates[key]
                self._earliest = None
                if candidate.event.id not in self.assignment and not self._is_held(candidate.event.id):
                    self._hold_or_pass(candidate.event)
        new = {key: label for key, label in errors.items() if key not in previous}
        after_save = payload.after_save
        for key, label in new.items():
            if episode is not None and key in episode.pending:
                continue
            if after_save:
                episode = self._ensure_open(row)
                episode.pending[key] = _Failure(key, "diagnostic", label, row.id, row.time, source_path=scope)
                episode.labels.append(f"clear the {label}")
            else:
                self._candidates[key] = _Candidate(key, label, row, scope)
                self._earliest = None
        if self.open is not None:
            self._attach(row)
        elif not self._is_held(row.id):
            self._hold_or_pass(row)

    def _change(self, row: EventRow, payload: DocumentSaved | FileChanged) -> None:
        if isinstance(payload, DocumentSaved):
            # Saved while an error stood: the error is real (confirm candidates of that document).
            self._confirm(
                [
                    candidate
                    for candidate in self._candidates.values()
                    if candidate.source_path.endswith("\x1f" + payload.path)
                ]
            )
        episode = self.open
        if episode is None:
            self._hold_or_pass(row)
            return
        self._attach(row)
        self._mark_changed(episode)

    # -- helpers ------------------------------------------------------------------------------

    def _settle(self, now: datetime) -> None:
        if self._candidates:
            if self._earliest is None:
                self._earliest = min(candidate.event.time for candidate in self._candidates.values())
            if (now - self._earliest).total_seconds() < self.config.diagnostic_settle_s:
                return
        self._confirm(
            [
                candidate
                for candidate in self._candidates.values()
                if (now - candidate.event.time).total_seconds() >= self.config.diagnostic_settle_s
            ]
        )
        if not self._candidates:
            self._release_buffer()

    def _confirm(self, due: list[_Candidate]) -> None:
        """The errors in ``due`` stood: they are pending failures of one episode, which takes their
        events and every held event from the first of them on, in time order, until it is full."""
        if not due:
            return
        due.sort(key=lambda candidate: (candidate.event.time, candidate.event.id))
        for candidate in due:
            self._candidates.pop(candidate.key, None)
        self._earliest = None
        episode = self._ensure_open(due[0].event)
        for candidate in due:
            episode.pending[candidate.key] = _Failure(
                candidate.key,
                "diagnostic",
                candidate.label,
                candidate.event.id,
                candidate.event.time,
                source_path=candidate.source_path,
            )
            episode.labels.append(f"clear the {candidate.label}")
        start = due[0].event.time
        joining = {row.id: row for row in self._buffer.values() if row.time >= start}
        joining.update({c.event.id: c.event for c in due if c.event.id not in self.assignment})
        for row in sorted(joining.values(), key=lambda r: (r.time, r.id)):
            if self.open is not episode:  # full: the rest is decided as if no episode were open
                break
            self._buffer.pop(row.id, None)
            self._attach(row)
            if row.type in (DOCUMENT_SAVED, FILE_CHANGED):
                self._mark_changed(episode, row.time)
        self._release_buffer()

    def _release_buffer(self) -> None:
        if self._candidates:
            return
        for row in self._buffer.values():
            if row.id not in self.assignment:
                self._pass_through(row)
        self._buffer = {}

    def _ensure_open(self, row: EventRow) -> _Open:
        if self.open is None:
            episode_id = episode_id_for(self.workspace, row.id)
            repeat = 1
            while episode_id in self._episode_ids:  # an earlier episode of this run began at ``row``
                episode_id = episode_id_for(self.workspace, f"{row.id}#{repeat}")
                repeat += 1
            self._episode_ids.add(episode_id)
            self.open = _Open(
                id=episode_id,
                workspace=self.workspace,
                started_at=row.time,
                last_at=row.time,
                event_ids=[],
            )
        return self.open

    def _attach(self, row: EventRow) -> None:
        episode = self.open
        if episode is None:
            self._hold_or_pass(row)
            return
        if row.id in self.assignment and self.assignment[row.id] == episode.id:
            return
        episode.event_ids.append(row.id)
        episode.last_at = max(episode.last_at, row.time)
        self.assignment[row.id] = episode.id
        if len(episode.event_ids) >= self.config.max_events:
            self._finish(episode, "failure")

    def _hold_or_pass(self, row: EventRow) -> None:
        """No episode is open: keep the event while an error may still be confirmed, else leave it
        out."""
        if self._candidates:
            self._buffer.setdefault(row.id, row)
        else:
            self._release_buffer()
            self._pass_through(row)

    def _pass_through(self, row: EventRow) -> None:
        self.assignment.setdefault(row.id, NO_EPISODE)

    @staticmethod
    def _mark_changed(episode: _Open, at: datetime | None = None) -> None:
        """A change at ``at`` (now when not given) counts for the failures that came before it."""
        for failure in episode.pending.values():
            if at is None or failure.failed_at <= at:
                failure.changed_since = True

    @staticmethod
    def _resolve(episode: _Open, key: str, *, fixed: bool) -> None:
        del episode.pending[key]
        if fixed:
            episode.fixes += 1
        else:
            episode.reruns += 1

    def _maybe_close(self) -> None:
        episode = self.open
        if episode is None or episode.pending:
            return
        if episode.fixes or episode.reruns:
            self._finish(episode, "success")
        else:  # only withdrawn failures: not an episode
            for event_id in episode.event_ids:
                self.assignment[event_id] = NO_EPISODE
            self.open = None

    def _finish(self, episode: _Open, outcome: str) -> None:
        self.finished.append(self._row(episode, FINISHED, outcome))
        self.open = None

    def _row(self, episode: _Open, status: str, outcome: str) -> EpisodeRow:
        labels = list(dict.fromkeys(episode.labels))
        goal = labels[0] if labels else "resolve a failure"
        if len(labels) > 1:
            goal += (
                "; then "
                + "; ".join(labels[1:4])
                + (f" (+{len(labels) - 4} more)" if len(labels) > 4 else "")
            )
        goal = goal[0].upper() + goal[1:]
        return EpisodeRow(
            id=episode.id,
            workspace=episode.workspace,
            started_at=episode.started_at,
            ended_at=episode.last_at,
            goal=goal[:1000],
            outcome=outcome,
            event_ids=list(episode.event_ids),
            status=status,
            distilled_at=None,
        )


# --------------------------------------------------------------------------------------------------
# Running over the pool
# --------------------------------------------------------------------------------------------------


class CaptureStore(Protocol):
    """What segmentation needs of the pool (``MemoryStore`` provides it)."""

    @property
    def config(self) -> Any: ...

    def read_events(
        self,
        *,
        ids: Sequence[str] | None = None,
        episode_ids: Sequence[str] | None = None,
        workspace: str | None = None,
        since: datetime | None = None,
        pace: Pace = ...,
    ) -> list[EventRow]: ...

    def assign_events(self, assignment: dict[str, str]) -> None: ...

    def upsert_episodes(self, rows: Sequence[EpisodeRow]) -> None: ...

    def list_episodes(
        self,
        status: str | Sequence[str] | None = None,
        workspace: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[EpisodeRow]: ...


@attrs.frozen
class SegmentReport:
    events: int
    finished: tuple[EpisodeRow, ...]
    open: tuple[EpisodeRow, ...]
    malformed: tuple[str, ...] = ()
    """Ids of events whose stored payload could not be read (reported; they joined episodes as
    plain events, without their content)."""


def segment_events(
    rows: Iterable[EventRow],
    config: SegmentConfig | None = None,
    now: datetime | None = None,
    *,
    malformed: list[str] | None = None,
    pace: Pace = no_pace,
) -> tuple[list[EpisodeRow], list[EpisodeRow], dict[str, str], set[str]]:
    """Segment ``rows`` (any order, any workspaces): ``(finished, open, assignment, held)``. The ids
    of events whose payload cannot be read are appended to ``malformed`` when given; ``pace`` is
    called every ``PACE_EVERY`` events."""
    by_workspace: dict[str, list[EventRow]] = {}
    for row in rows:
        by_workspace.setdefault(row.workspace, []).append(row)
    finished: list[EpisodeRow] = []
    still_open: list[EpisodeRow] = []
    assignment: dict[str, str] = {}
    held: set[str] = set()
    for workspace, events in sorted(by_workspace.items()):
        events.sort(key=lambda row: (row.time, row.id))
        if not workspace:
            assignment.update({row.id: NO_EPISODE for row in events})
            continue
        segmenter = WorkspaceSegmenter(workspace, config)
        for index, row in enumerate(events):
            if index % PACE_EVERY == 0:
                pace()
            segmenter.feed(row)
        if now is not None:
            segmenter.tick(now)
        finished.extend(segmenter.finished)
        open_row = segmenter.open_row()
        if open_row is not None:
            still_open.append(open_row)
        workspace_held = segmenter.held
        held |= workspace_held
        if malformed is not None:
            malformed.extend(error.event_id for error in segmenter.malformed)
        assignment.update(
            {key: value for key, value in segmenter.assignment.items() if key not in workspace_held}
        )
    return finished, still_open, assignment, held


def segment_pending(
    store: CaptureStore,
    config: SegmentConfig | None = None,
    now: datetime | None = None,
    *,
    pace: Pace = no_pace,
) -> SegmentReport:
    """One segmentation run over the pool (see the module's rules). Safe to call from several
    threads and processes: runs are serialised by a file lock in the pool's directory. ``pace`` lets
    the run give way to a hover between its steps."""
    now = now or _utcnow()
    lock = PoolLock(store.config.pool_dir / SEGMENT_LOCK)
    with lock.hold():
        previously_open = store.list_episodes(OPEN)
        rows = store.read_events(episode_ids=["", *[episode.id for episode in previously_open]], pace=pace)
        if not rows and not previously_open:
            return SegmentReport(0, (), ())
        malformed: list[str] = []
        finished, still_open, assignment, _held = segment_events(
            rows, config, now, malformed=malformed, pace=pace
        )
        known = {episode.id for episode in (*finished, *still_open)}
        dropped = [
            EpisodeRow(**{**episode.model_dump(), "status": DISCARDED})
            for episode in previously_open
            if episode.id not in known
        ]
        store.upsert_episodes([*finished, *still_open, *dropped])
        current = {row.id: row.episode_id for row in rows}
        changes = {
            event_id: episode for event_id, episode in assignment.items() if current.get(event_id) != episode
        }
        store.assign_events(changes)
        if finished:
            logger.info("segmentation finished %d episode(s)", len(finished))
        if malformed:
            logger.warning("segmentation read %d event(s) whose payload is malformed", len(malformed))
        return SegmentReport(len(rows), tuple(finished), tuple(still_open), tuple(dict.fromkeys(malformed)))

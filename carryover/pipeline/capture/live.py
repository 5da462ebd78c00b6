"""The one producer of editor and terminal events: what the language server's handlers call.

``LiveCapture`` exists from the server's first message, before the pool is open. It follows the open
documents (``DocumentTracker``: bounded diffs with line counts, the secret-path rule, diagnostics
before and after a save), builds terminal events with the same limits as every other source
(``terminal_event``), and holds what it produced until a sink is attached. Pausing and the capture
setting are decided here, once: a paused capture still follows the documents (so the first save
after resuming diffs against the right text) but records nothing.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from carryover.pipeline.capture.documents import DocumentTracker, uri_to_path, workspace_of
from carryover.pipeline.capture.filters import PathFilter, holds_ignore_rules, is_secret_path
from carryover.pipeline.capture.terminal import decode, terminal_event, terminal_started_event
from carryover.pipeline.events import CapturedEvent, EventSink
from carryover.vocabulary.output import OUTPUT_HEAD_CHARS, OUTPUT_TAIL_CHARS

logger = logging.getLogger(__name__)

PENDING_EVENTS = 10_000
"""Events held while no sink is attached (the pool is opening); the oldest go first beyond this."""


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time from a client (naive UTC); None for none or one that does not parse."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        logger.info("ignored a time that is not ISO 8601: %r", value[:40])
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


class LiveCapture:
    """Not thread-safe: call it from the LSP event loop. ``folders`` gives the workspace roots;
    ``exclude`` the user's exclude globs (gitignore syntax)."""

    def __init__(self, folders: Callable[[], Sequence[str]], exclude: Sequence[str] = ()) -> None:
        self._folders = folders
        self._exclude = list(exclude)
        self._filters: dict[tuple[str, bool], PathFilter] = {}
        """Path filters by workspace root and whether they read .gitignore (made once per exclude list)."""
        self.enabled = True
        self.paused = False
        self._sink: EventSink | None = None
        self._on_editor_write: Callable[[str], None] | None = None
        self._pending: collections.deque[CapturedEvent] = collections.deque(maxlen=PENDING_EVENTS)
        self.tracker = DocumentTracker(self.workspace_of, exclude=self.excluded)

    # -- configuration --------------------------------------------------------------------------

    @property
    def recording(self) -> bool:
        return self.enabled and not self.paused

    def set_exclude(self, exclude: Sequence[str]) -> None:
        if list(exclude) != self._exclude:
            self._exclude = list(exclude)
            self._filters.clear()

    def attach(self, sink: EventSink, on_editor_write: Callable[[str], None] | None = None) -> None:
        """Send events to ``sink`` from now on, the held ones first. ``on_editor_write`` is told the
        path of every save (the file watcher's cue that the change came from the editor)."""
        self._sink = sink
        self._on_editor_write = on_editor_write
        while self._pending:
            sink.record(self._pending.popleft())

    # -- paths ----------------------------------------------------------------------------------

    def workspace_of(self, path: str) -> str:
        """The innermost workspace folder holding ``path``; the first folder when none does."""
        folders = list(self._folders())
        found = workspace_of(path, folders)
        return found or (folders[0].rstrip("/") if folders else "")

    def excluded(self, path: str) -> bool:
        """Whether ``path`` is kept out of capture: a secret (``.env``, keys, credentials), one of the
        user's exclude globs, gitignored, or noise (``node_modules/``, ...)."""
        if is_secret_path(path):
            return True
        root = workspace_of(path, list(self._folders()))
        if not root:
            return bool(self._exclude) and self._filter("/", use_gitignore=False).excluded(path)
        return self._filter(root, use_gitignore=True).excluded(path)

    def hidden(self, path: str) -> bool:
        """Whether suggestions stay out of ``path``: a secret file or one of the user's exclude globs
        (a gitignored build output still gets hovers)."""
        if is_secret_path(path):
            return True
        if not self._exclude:
            return False
        root = workspace_of(path, list(self._folders())) or "/"
        return self._filter(root, use_gitignore=False).excluded(path)

    def _filter(self, root: str, *, use_gitignore: bool) -> PathFilter:
        path_filter = self._filters.get((root, use_gitignore))
        if path_filter is None:
            path_filter = PathFilter(root, self._exclude, use_gitignore=use_gitignore)
            self._filters[(root, use_gitignore)] = path_filter
        return path_filter

    # -- documents ------------------------------------------------------------------------------

    # A document capture keeps out (a secret, a user exclude, gitignored, noise) is still followed,
    # so that state stays right if the rules change, but nothing about it is recorded.

    def document_opened(self, uri: str, language_id: str, version: int, text: str) -> None:
        self._record_document(uri, self.tracker.open(uri, language_id, version, text))

    def document_changed(self, uri: str, version: int, changes: Sequence[Any]) -> None:
        self._record_document(uri, self.tracker.change(uri, version, changes))

    def document_saved(self, uri: str, text: str | None = None) -> None:
        path = uri_to_path(uri)
        if self._on_editor_write is not None:
            self._on_editor_write(path)
        if holds_ignore_rules(path):
            for path_filter in list(self._filters.values()):
                path_filter.invalidate(path)
        self._record_document(uri, self.tracker.save(uri, text))

    def document_closed(self, uri: str) -> None:
        self._record_document(uri, self.tracker.close(uri))

    def diagnostics(self, uri: str, diagnostics: Sequence[Any], source: str = "editor") -> None:
        self._record_document(uri, self.tracker.diagnostics(uri, diagnostics, source))

    def _record_document(self, uri: str, events: Sequence[CapturedEvent]) -> None:
        if events and not self.excluded(uri_to_path(uri)):
            self._record(events)

    # -- terminals ------------------------------------------------------------------------------

    def terminal_started(self, command: str, cwd: str, terminal_id: str = "", execution_id: str = "") -> None:
        if self.excluded_cwd(cwd):
            return
        self._record(
            [
                terminal_started_event(
                    command,
                    cwd,
                    workspace=self.workspace_of(cwd),
                    terminal_id=terminal_id,
                    execution_id=execution_id,
                )
            ]
        )

    def terminal_ended(
        self,
        command: str,
        cwd: str,
        exit_code: int | None,
        *,
        output_head: str,
        output_tail: str,
        terminal_id: str = "",
        execution_id: str = "",
        started_at: str | None = None,
        ended_at: str | None = None,
    ) -> str | None:
        """Record a finished command; returns its output as capture keeps it (cleaned, head and
        tail bounded) for the hover's memory of the last failure, None when the folder is excluded."""
        if self.excluded_cwd(cwd):
            return None
        event = terminal_event(
            command,
            cwd,
            exit_code,
            workspace=self.workspace_of(cwd),
            output_head=output_head,
            output_tail=output_tail,
            terminal_id=terminal_id,
            execution_id=execution_id,
            started_at=parse_time(started_at),
            ended_at=parse_time(ended_at),
        )
        self._record([event])
        head = decode(output_head)[:OUTPUT_HEAD_CHARS]
        tail = decode(output_tail)[-OUTPUT_TAIL_CHARS:]
        return f"{head}\n{tail}" if head and tail else head or tail

    def excluded_cwd(self, cwd: str) -> bool:
        """A terminal's folder is kept out by the same rule as suggestions (secret or user globs)."""
        return bool(cwd) and self.hidden(cwd)

    # -- recording ------------------------------------------------------------------------------

    def record(self, event: CapturedEvent) -> None:
        self._record([event])

    def _record(self, events: Sequence[CapturedEvent]) -> None:
        if not events or not self.recording:
            return
        for event in events:
            if self._sink is None:
                self._pending.append(event)
            else:
                self._sink.record(event)

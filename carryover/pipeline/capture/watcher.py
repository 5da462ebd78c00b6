"""Files changed outside the editor (git checkout, a formatter, an agent), watched with watchdog.

Each workspace gets a non-recursive watch on its root and a recursive watch on each top-level folder
that the :class:`~.filters.PathFilter` does not exclude, so ``.git``, ``node_modules``
or a gitignored ``target/`` are never walked (watchdog runs one thread per watch, so one watch per
folder would not scale). Events for excluded paths (secrets, user excludes, gitignored, noise) are
dropped before they become events.

Bursts are coalesced per path over ``debounce_s`` (created+modified → created, created+deleted →
nothing, an atomic save's temp-file rename → modified). A save made by the editor itself is not an
external change: the language server calls :meth:`WorkspaceWatcher.note_editor_write` on save and
changes to that path within ``editor_grace_s`` are dropped. More than ``bulk_threshold`` changes in
one flush (a branch switch) become one event with ``change`` = ``"bulk"``, ``count`` and a sample
of ``paths``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import attrs
from watchdog.events import FileSystemEvent, FileSystemEventHandler

from carryover.pipeline.capture.filters import PathFilter, holds_ignore_rules
from carryover.pipeline.events import CapturedEvent, Change, EventSink, FileChanged

logger = logging.getLogger(__name__)

BULK_SAMPLE = 20
_DIRECT_CHANGES: dict[str, Change] = {"created": "created", "modified": "modified", "deleted": "deleted"}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@attrs.define
class _Pending:
    change: Change
    first_seen: float
    last_seen: float
    source_path: str = ""
    time: datetime = attrs.field(factory=_utcnow)


def _merge(old: Change, new: Change) -> Change | None:
    """The net change of ``old`` followed by ``new`` (None: nothing happened)."""
    if old == "created":
        return None if new == "deleted" else "created"
    if old == "deleted":
        return "modified" if new in ("created", "modified") else "deleted"
    if new == "deleted":
        return "deleted"
    return old if old == "moved" else new


class WorkspaceWatcher:
    """Watches one workspace root and records ``file.changed_externally`` events into ``sink``."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        sink: EventSink,
        *,
        exclude: Sequence[str] = (),
        path_filter: PathFilter | None = None,
        workspace: str | None = None,
        debounce_s: float = 0.3,
        editor_grace_s: float = 2.0,
        bulk_threshold: int = 200,
    ) -> None:
        self.root = Path(root).resolve()
        self.workspace = workspace if workspace is not None else str(self.root)
        self.filter = path_filter or PathFilter(self.root, exclude)
        self._sink = sink
        self._debounce_s = debounce_s
        self._editor_grace_s = editor_grace_s
        self._bulk_threshold = bulk_threshold
        self._pending: dict[str, _Pending] = {}
        self._editor_writes: dict[str, float] = {}
        self._lock = threading.Lock()
        self._observer: Any = None
        self._watched: dict[str, Any] = {}
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._handler: _Handler | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> WorkspaceWatcher:
        from watchdog.observers import Observer

        observer = Observer(timeout=0.2)
        self._observer = observer
        handler = _Handler(self)
        self._handler = handler
        self._watched["."] = observer.schedule(handler, str(self.root), recursive=False)
        for entry in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            self._watch_folder(entry, handler)
        observer.start()
        self._stop.clear()
        self._flusher = threading.Thread(target=self._flush_loop, name="carryover-watch-flush", daemon=True)
        self._flusher.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
            self._flusher = None
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        self.flush_now(force=True)

    def __enter__(self) -> WorkspaceWatcher:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _watch_folder(self, folder: Path, handler: _Handler) -> None:
        if not folder.is_dir() or folder.is_symlink() or self.filter.excluded(folder, is_dir=True):
            return
        key = folder.name
        if key in self._watched or self._observer is None:
            return
        try:
            self._watched[key] = self._observer.schedule(handler, str(folder), recursive=True)
        except OSError as error:  # e.g. out of inotify watches
            logger.warning("cannot watch %s: %s", folder, error)

    # -- the editor's own writes -------------------------------------------------------------

    def note_editor_write(self, path: str | os.PathLike[str]) -> None:
        """The editor saved ``path``: the file system events that follow are not external."""
        relative = self.filter.relative(path)
        if relative is not None:
            with self._lock:
                self._editor_writes[relative] = time.monotonic()
                self._pending.pop(relative, None)

    # -- events from watchdog ---------------------------------------------------------------

    def on_raw_event(self, change: str, src: str, dest: str = "", is_directory: bool = False) -> None:
        """One watchdog event (also the seam for tests): ``change`` is created, modified, deleted or
        moved."""
        if is_directory:
            if change in ("created", "moved"):
                target = Path(dest or src)
                if target.parent == self.root and self._handler is not None:
                    self._watch_folder(target, self._handler)
                    self._scan_new_folder(target)
            return
        src_rel = self.filter.relative(src)
        if change == "moved":
            dest_rel = self.filter.relative(dest)
            src_ok = src_rel is not None and not self.filter.excluded(src)
            dest_ok = dest_rel is not None and not self.filter.excluded(dest)
            if dest_ok and dest_rel is not None:
                if src_ok and src_rel is not None:
                    self._add(dest_rel, "moved", source_path=src_rel)
                else:  # an atomic save: temp file renamed over the target
                    self._add(dest_rel, "modified")
            elif src_ok and src_rel is not None:
                self._add(src_rel, "deleted")
            return
        if src_rel is None:
            return
        if holds_ignore_rules(src_rel):
            self.filter.invalidate(src)
        if self.filter.excluded(src):
            return
        kind = _DIRECT_CHANGES.get(change)
        if kind is not None:
            self._add(src_rel, kind)

    def _scan_new_folder(self, folder: Path) -> None:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not self.filter.excluded(Path(dirpath) / d, is_dir=True)]
            for name in filenames:
                full = Path(dirpath) / name
                relative = self.filter.relative(full)
                if relative is not None and not self.filter.excluded(full):
                    self._add(relative, "created")

    def _add(self, relative: str, change: Change, source_path: str = "") -> None:
        now = time.monotonic()
        with self._lock:
            written = self._editor_writes.get(relative)
            if written is not None and change in ("modified", "created", "moved"):
                if now - written <= self._editor_grace_s:
                    return
                del self._editor_writes[relative]
            pending = self._pending.get(relative)
            if pending is None:
                self._pending[relative] = _Pending(change, now, now, source_path)
                return
            merged = _merge(pending.change, change)
            if merged is None:
                del self._pending[relative]
                return
            pending.change = merged
            pending.last_seen = now
            if source_path:
                pending.source_path = source_path

    # -- flushing ------------------------------------------------------------------------------

    def _flush_loop(self) -> None:
        interval = max(0.05, self._debounce_s / 2)
        while not self._stop.wait(interval):
            try:
                self.flush_now()
            except Exception:  # a failed flush must not stop watching
                logger.exception("file watcher flush failed")

    def flush_now(self, force: bool = False) -> int:
        """Record the changes that have been quiet for ``debounce_s`` (all of them with ``force``).
        Returns the number of events recorded."""
        now = time.monotonic()
        with self._lock:
            ready = {
                path: pending
                for path, pending in self._pending.items()
                if force or now - pending.last_seen >= self._debounce_s
            }
            for path in ready:
                del self._pending[path]
        if not ready:
            return 0
        if len(ready) > self._bulk_threshold:
            paths = sorted(ready)
            bulk = FileChanged(path="", change="bulk", count=len(paths), paths=tuple(paths[:BULK_SAMPLE]))
            self._sink.record(CapturedEvent(self.workspace, "watcher", bulk))
            return 1
        for path, pending in sorted(ready.items(), key=lambda item: item[1].first_seen):
            payload = FileChanged(path=path, change=pending.change, from_path=pending.source_path)
            self._sink.record(CapturedEvent(self.workspace, "watcher", payload, time=pending.time))
        return len(ready)


class _Handler(FileSystemEventHandler):
    _KINDS: ClassVar[frozenset[str]] = frozenset({"created", "modified", "deleted", "moved"})

    def __init__(self, watcher: WorkspaceWatcher) -> None:
        super().__init__()
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        change = str(event.event_type)
        if change not in self._KINDS:  # opened, closed, closed_no_write
            return
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path or "")
        try:
            self._watcher.on_raw_event(change, src, dest, bool(event.is_directory))
        except Exception:  # never let one odd path kill the observer thread
            logger.exception("file watcher could not handle %s", src)

"""Follows the shell hook's log (``<pool>/shell/commands.jsonl``) and records ``shell.command`` events.

- **Redacted twice.** The hook's recorder redacts each line before writing it (version 2 records);
  the command and cwd are redacted again here, and the sink redacts every payload string once more,
  so a line written by an older hook (version 1, plain text) is never stored as it was. The offset
  file and the lock beside the log are mode 0600, the folder 0700.

- **Tail from the last offset.** The offset (with the file's inode) is kept in
  ``commands.jsonl.offset.json`` beside the log, written after the events are flushed to the pool,
  so a restart resumes where it stopped: nothing is skipped, and a line read twice (killed between
  flush and offset write) has the same event id and is stored once.
- **Only complete lines** are consumed; a line being written is read next time.
- **Truncation** (the file is shorter than the offset): read again from the start.
- **Rotation** (a new file under the name): the rest of the old file is read first when it is still
  beside the log under another name (``commands.jsonl.1``), then the new file from its start.
- **Several daemons** (editor windows) may follow one log: a file lock around read-record-flush-save
  makes each line go to the pool once.
- Malformed lines are skipped. A command's workspace is the longest configured workspace root that
  contains its cwd, else the nearest folder holding ``.git``, else the cwd itself.

Watchdog reports writes to the log's folder; a poll every ``poll_interval_s`` covers missed events.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from carryover.pipeline.capture.documents import workspace_of
from carryover.pipeline.events import CapturedEvent, EventSink, ShellCommand
from carryover.pool.locking import PRIVATE_FILE_MODE, PoolLock, private_dir
from carryover.pool.redaction import redact_text

logger = logging.getLogger(__name__)

MAX_READ_BYTES = 4 * 1024 * 1024


def _from_epoch(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(float(value), tz=timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def git_root(path: str) -> str | None:
    """The nearest folder at or above ``path`` that holds ``.git``."""
    current = Path(path)
    for candidate in (current, *current.parents):
        if (candidate / ".git").exists():
            return str(candidate)
    return None


def line_to_event(line: str, workspace_for: Callable[[str], str]) -> CapturedEvent | None:
    """The ``shell.command`` event of one log line, or None when the line is not a command record."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("command"), str):
        return None
    command = redact_text(record["command"].strip())
    if not command:
        return None
    cwd = redact_text(str(record.get("cwd") or ""))
    exit_code = record.get("exit_code")
    ended = _from_epoch(record.get("ended")) or _from_epoch(record.get("started"))
    started = _from_epoch(record.get("started"))
    time = ended or datetime.now(timezone.utc).replace(tzinfo=None)
    payload = ShellCommand(
        command=command,
        cwd=cwd,
        exit_code=int(exit_code) if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
        shell=str(record.get("shell") or ""),
        started_at=started,
        ended_at=ended,
    )
    digest = hashlib.sha256(line.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    micros = int(time.replace(tzinfo=timezone.utc).timestamp() * 1_000_000)
    return CapturedEvent(
        workspace=workspace_for(cwd),
        source="shell-hook",
        payload=payload,
        time=time,
        id=f"evt_{micros:014x}sh{digest}",
    )


class ShellLogFollower:
    """Turns new lines of the shell log into events for ``sink``."""

    def __init__(
        self,
        log_path: str | os.PathLike[str],
        sink: EventSink,
        workspaces: Sequence[str] | Callable[[], Sequence[str]] = (),
        *,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.log_path = Path(log_path)
        self.state_path = self.log_path.with_name(self.log_path.name + ".offset.json")
        self._lock = PoolLock(self.log_path.with_name(self.log_path.name + ".lock"))
        self._sink = sink
        self._workspaces = workspaces
        self._poll_interval_s = poll_interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer: Any = None

    # -- workspaces -----------------------------------------------------------------------------

    def workspace_for(self, cwd: str) -> str:
        roots = self._workspaces() if callable(self._workspaces) else self._workspaces
        found = workspace_of(cwd, list(roots)) if cwd else ""
        if found:
            return found
        if not cwd:
            return ""
        return git_root(cwd) or cwd

    # -- state ----------------------------------------------------------------------------------

    def _load_state(self) -> tuple[int, int]:
        try:
            raw = json.loads(self.state_path.read_text(encoding="utf-8"))
            return int(raw.get("inode", 0)), int(raw.get("offset", 0))
        except (OSError, ValueError, TypeError, AttributeError):
            return 0, 0

    def _save_state(self, inode: int, offset: int) -> None:
        temporary = self.state_path.with_name(self.state_path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps({"inode": inode, "offset": offset}))
        os.replace(temporary, self.state_path)

    # -- reading --------------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Record every complete new line; returns how many events were recorded."""
        private_dir(self.log_path.parent)
        with self._lock.hold():
            inode, offset = self._load_state()
            saved_offset = offset
            try:
                stat = self.log_path.stat()
            except FileNotFoundError:
                return 0
            recorded = 0
            if inode and stat.st_ino != inode:
                rotated = self._find_rotated(inode)
                if rotated is not None:
                    recorded += self._read(rotated, offset)[0]
                offset = 0
            elif stat.st_size < offset:  # truncated
                offset = 0
            count, offset = self._read(self.log_path, offset)
            recorded += count
            if recorded:
                self._sink.flush()
            if stat.st_ino != inode or offset != saved_offset:
                self._save_state(stat.st_ino, offset)
            return recorded

    def _find_rotated(self, inode: int) -> Path | None:
        for sibling in self.log_path.parent.iterdir():
            if sibling == self.log_path or not sibling.name.startswith(self.log_path.name):
                continue
            try:
                if sibling.stat().st_ino == inode:
                    return sibling
            except OSError:
                continue
        return None

    def _read(self, path: Path, offset: int) -> tuple[int, int]:
        """Record complete lines of ``path`` from ``offset``: ``(events, new offset)``."""
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                data = handle.read(MAX_READ_BYTES)
        except OSError as error:
            logger.warning("cannot read the shell log %s: %s", path, error)
            return 0, offset
        end = data.rfind(b"\n")
        if end == -1:
            return 0, offset
        count = 0
        for raw in data[: end + 1].splitlines():
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            event = line_to_event(line, self.workspace_for)
            if event is None:
                logger.debug("skipping a malformed shell log line")
                continue
            self._sink.record(event)
            count += 1
        return count, offset + end + 1

    # -- running --------------------------------------------------------------------------------

    def start(self) -> ShellLogFollower:
        private_dir(self.log_path.parent)
        self._stop.clear()
        try:
            from watchdog.observers import Observer

            observer = Observer(timeout=0.2)
            observer.schedule(_LogHandler(self), str(self.log_path.parent), recursive=False)
            observer.start()
            self._observer = observer
        except OSError as error:  # out of inotify watches: polling still works
            logger.warning("cannot watch %s (%s); polling it instead", self.log_path.parent, error)
        self._thread = threading.Thread(target=self._run, name="carryover-shell-log", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> ShellLogFollower:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # keep following whatever one poll met
                logger.exception("following the shell log failed")
            self._wake.wait(self._poll_interval_s)
            self._wake.clear()


class _LogHandler(FileSystemEventHandler):
    def __init__(self, follower: ShellLogFollower) -> None:
        super().__init__()
        self._follower = follower

    def on_any_event(self, event: FileSystemEvent) -> None:
        name = self._follower.log_path.name
        paths = (os.fsdecode(event.src_path), os.fsdecode(event.dest_path or ""))
        if any(Path(path).name == name for path in paths if path):
            self._follower.wake()

"""A cross-process write lock for one pool directory.

Every write (dedup check, insert, merge, feedback) happens inside it, so several editor windows and
command-line runs can share a pool without losing or duplicating memories. The kernel releases an
``flock`` when its process dies, so a killed writer never leaves the pool locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` created with mode 0700 (missing parents too), or narrowed to 0700 when it is ours
    and more open: what the product keeps (pool, shell log) is readable by its user only."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):  # each one we create is 0700, parents included
        directory.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o777 != PRIVATE_DIR_MODE:
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


class PoolBusy(TimeoutError):
    """Another process held the pool's write lock for longer than we were willing to wait."""


class PoolLock:
    def __init__(self, path: Path, timeout_s: float = 60.0) -> None:
        self._path = path
        self._timeout_s = timeout_s
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                self._acquire()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def _acquire(self) -> None:
        private_dir(self._path.parent)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        deadline = time.monotonic() + self._timeout_s
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise PoolBusy(
                        f"another process has held the pool lock {self._path} for over "
                        f"{self._timeout_s:.0f} s"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        self._fd = fd

    def _release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class InProcessLock(PoolLock):
    """The lock of a pool on object storage: only the threads of this process take turns. There is no
    file to lock on a bucket shared by several machines; their writes are kept apart by LanceDB's
    commit protocol instead (conditional puts of each new table version, conflicting commits retried,
    and the ``id`` primary key so that two writers of one new memory leave it once)."""

    def __init__(self, where: str) -> None:
        super().__init__(Path(), timeout_s=0.0)
        self._where = where

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            yield

"""Errors of the memory pool, importable without loading LanceDB."""

from __future__ import annotations

import errno
import os
import re


class PoolError(RuntimeError):
    """The pool cannot be used as it is; the message says why and what to do."""


class PoolVersionError(PoolError):
    """The pool was written by a newer Carryover."""


class PoolCorrupt(PoolError):
    """The pool's files cannot be read."""


class EmbedderMismatch(PoolError):
    """The pool's vectors came from another embedder than the one configured now."""


def embedder_mismatch(
    pool_embedder: str, pool_dimension: int, configured: str, dimension: int
) -> EmbedderMismatch:
    return EmbedderMismatch(
        f"the pool was embedded with {pool_embedder} ({pool_dimension}-d) but the "
        f"configured embedder is {configured} ({dimension}-d); run "
        f"`carryover reembed` to re-embed the pool with it, or configure the original embedder"
    )


class PoolReadError(PoolError):
    """LanceDB failed while reading or writing the pool's files (damaged or missing data files)."""


class PoolStorageError(PoolReadError):
    """The file system refused the pool a read or a write: full, read-only, no permission, too many
    open files. ``reason`` is one word (``full``, ``quota``, ``file-size``, ``read-only``,
    ``permission``, ``open-files``, ``io``) and the message plain language, never LanceDB internals."""

    def __init__(self, message: str, reason: str, location: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.location = location


class MemoryNotFound(KeyError):
    """No memory has that id."""


KEPT = "memories already in the pool are kept"
# errno -> (reason, what happened, what to do)
_STORAGE: dict[int, tuple[str, str, str]] = {
    errno.ENOSPC: (
        "full",
        "the disk it is on is full",
        f"free some space there (or move the pool with --db or CARRYOVER_HOME) and try again; {KEPT}",
    ),
    errno.EDQUOT: (
        "quota",
        "your disk quota there is used up",
        f"free some space or ask for a larger quota, then try again; {KEPT}",
    ),
    errno.EFBIG: (
        "file-size",
        "a file grew past the size limit for this process (ulimit -f)",
        f"raise the limit and try again; {KEPT}",
    ),
    errno.EROFS: (
        "read-only",
        "it is on a read-only file system",
        f"remount it writable or move the pool (--db or CARRYOVER_HOME) to a writable disk; {KEPT}",
    ),
    errno.EACCES: (
        "permission",
        "permission was denied",
        "check that you own the pool directory and may write it (ls -ld, chown, chmod u+rwX)",
    ),
    errno.EPERM: (
        "permission",
        "the operation was not permitted",
        "check that you own the pool directory and may write it (ls -ld, chown, chmod u+rwX)",
    ),
    errno.EMFILE: (
        "open-files",
        "this process has too many open files",
        "raise the limit (ulimit -n) or close other programs, then try again",
    ),
    errno.ENFILE: (
        "open-files",
        "the system has too many open files",
        "close other programs, then try again",
    ),
    errno.EIO: (
        "io",
        "the disk reported an input/output error",
        "check the disk (dmesg), copy the pool elsewhere and point --db at the copy",
    ),
}
_OS_ERROR = re.compile(r"os error (\d+)")
_RUST_LOCATION = re.compile(r",?\s*(?:/|[A-Za-z]:\\)\S*\.rs:\d+(?::\d+)?")
_LANCE_PREFIX = re.compile(
    r"^(?:(?:lance error|lancedb error|Lance error|LanceError\(\w+\)|Generic \w+ error|IO error|"
    r"External error|Execution error)\s*:\s*)+",
    re.IGNORECASE,
)


def _errno_of(error: BaseException) -> int | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:  # the error and its causes
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _STORAGE:
            return current.errno
        text = str(current)
        for match in _OS_ERROR.finditer(text):
            if int(match.group(1)) in _STORAGE:
                return int(match.group(1))
        for number in _STORAGE:
            if os.strerror(number).lower() in text.lower():
                return number
        current = current.__cause__ or current.__context__
    return None


def plain_reason(error: BaseException, limit: int = 200) -> str:
    """The first line of an error's text without Rust source locations or LanceDB's prefixes."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = _RUST_LOCATION.sub("", lines[0] if lines else type(error).__name__)
    text = _LANCE_PREFIX.sub("", text).strip(" ,:") or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def storage_error(error: BaseException, location: object) -> PoolStorageError | None:
    """``error`` (an OSError or LanceDB's error for one) as a plain PoolStorageError naming the pool
    at ``location`` and what to do; None when it is not a refusal of the file system."""
    number = _errno_of(error)
    if number is None:
        return None
    reason, what, todo = _STORAGE[number]
    verb = "written" if reason in ("full", "quota", "file-size", "read-only") else "read or written"
    message = f"the pool at {location} could not be {verb}: {what} ({os.strerror(number)}); {todo}."
    return PoolStorageError(message, reason, str(location))


def pool_read_error(error: BaseException, location: object) -> PoolReadError:
    """LanceDB's or the file system's error as one PoolReadError in plain words (the original text
    is for the debug log)."""
    return storage_error(error, location) or PoolReadError(
        f"the pool at {location} could not be read or written: {plain_reason(error)}"
    )


__all__ = [
    "EmbedderMismatch",
    "MemoryNotFound",
    "PoolCorrupt",
    "PoolError",
    "PoolReadError",
    "PoolStorageError",
    "PoolVersionError",
    "plain_reason",
    "pool_read_error",
    "storage_error",
]

"""The command line's side of the local socket: ask the pool's daemon, or say there is none.

``ask`` returns the daemon's answer, or None whenever the command should run in this process
instead: no socket, a stale socket file (a killed daemon: the connection is refused at once), a
socket that is not the user's own, a daemon that does not answer within the timeouts, or one that
answers unavailable (another configuration, its pool not open yet). It never raises for any of
those; the caller falls back. Imports only the standard library and the protocol (no LanceDB, no
LSP): it runs before the command line knows whether it needs the pool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import time
from pathlib import Path

from carryover.local.protocol import (
    MAX_ANSWER,
    Answer,
    ProtocolError,
    ReadRequest,
    Unavailable,
    decode_answer,
    encode_request,
    socket_dir,
    socket_path,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 0.25
ANSWER_TIMEOUT_S = 5.0
SUN_PATH_MAX = 100
"""sockaddr_un holds 108 bytes; a longer path is reached through the directory's descriptor."""


def connect(sock: socket.socket, path: Path) -> None:
    """``sock.connect(path)``, also for a path too long for sockaddr_un (through /proc/self/fd)."""
    if len(os.fsencode(path)) < SUN_PATH_MAX:
        sock.connect(os.fspath(path))
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sock.connect(f"/proc/self/fd/{fd}/{path.name}")
    finally:
        os.close(fd)


def _own_directory(directory: Path) -> bool:
    try:
        info = os.stat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def ask(
    pool_dir: Path,
    request: ReadRequest,
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    answer_timeout_s: float = ANSWER_TIMEOUT_S,
) -> Answer | None:
    """The daemon's answer to ``request``, or None: run the command here (see the module)."""
    path = socket_path(pool_dir)
    if not _own_directory(socket_dir(pool_dir)):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.closing(sock):
        sock.settimeout(connect_timeout_s)
        try:
            connect(sock, path)
        except OSError as error:  # no socket, a stale one (refused), a full backlog (timeout)
            logger.debug("no daemon at %s: %s", path, error)
            return None
        try:
            sock.settimeout(answer_timeout_s)
            sock.sendall(encode_request(request))
            sock.shutdown(socket.SHUT_WR)
            data = _read_all(sock, time.monotonic() + answer_timeout_s)
        except OSError as error:  # includes the timeout
            logger.info("the daemon at %s did not answer (%s); running here", path, error)
            return None
    if data is None:
        logger.info("the daemon's answer at %s was over %d bytes; running here", path, MAX_ANSWER)
        return None
    try:
        answer = decode_answer(data)
    except ProtocolError as error:
        logger.info("the daemon's answer at %s was not understood (%s); running here", path, error)
        return None
    if isinstance(answer, Unavailable):
        logger.info("the daemon at %s cannot answer: %s; running here", path, answer.reason)
        return None
    logger.info("answered by the daemon at %s", path)
    return answer


def _read_all(sock: socket.socket, deadline: float) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the answer did not end in time")
        sock.settimeout(left)
        chunk = sock.recv(2**16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_ANSWER:
            return None
        chunks.append(chunk)

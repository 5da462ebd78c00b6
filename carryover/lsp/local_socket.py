"""The daemon's side of the pool's local socket: the read commands of ``carryover`` answered by the
running server, so ``carryover search`` costs a round trip instead of loading LanceDB and the model.

The socket is ``<pool>/.daemon/carryover.sock`` (the directory 0700, the socket 0600). One daemon
serves it: the first on the pool, which holds ``owner.lock`` (flock) as long as it runs. Another
daemon on the same pool (a second editor window) does not serve; it tries again every
``RETRY_S`` seconds and takes over when the first one ends. A socket file left by a killed daemon is
removed by the next owner (the lock proves nobody serves it); meanwhile a client's connection is
refused at once and the command runs in its own process.

Each connection is one request line and one answer line (carryover/local/protocol.py). Accepting
and reading happen on the event loop (non-blocking); the command itself runs in the interactive
workers, through ``carryover.local.reads.answer`` — the very function the command line runs when
no daemon answers — on the pool as it is now (refreshed first, so a write just made by another
process is seen). A request made with another pool configuration is answered unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
from pathlib import Path
from typing import IO, TYPE_CHECKING

from carryover.local.protocol import (
    MAX_REQUEST,
    OWNER_LOCK,
    Answer,
    ProtocolError,
    ReadArgs,
    Unavailable,
    config_digest,
    decode_request,
    encode_answer,
    socket_dir,
    socket_path,
)

if TYPE_CHECKING:
    from carryover.lsp.runtime import Background, StoreHandle, Workers
    from carryover.pool.store import MemoryStore

logger = logging.getLogger(__name__)

RETRY_S = 5.0
READ_TIMEOUT_S = 5.0
STORE_WAIT_S = 2.0
SUN_PATH_MAX = 100


def _bind(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if len(os.fsencode(path)) < SUN_PATH_MAX:
            sock.bind(os.fspath(path))
        else:  # too long for sockaddr_un: through the directory's descriptor
            fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                sock.bind(f"/proc/self/fd/{fd}/{path.name}")
            finally:
                os.close(fd)
        os.chmod(path, 0o600)
        sock.listen(16)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class LocalSocket:
    """Serves ``carryover search``/``show``/``list`` for this daemon's pool while it owns the socket."""

    def __init__(self, store: StoreHandle, workers: Workers, background: Background) -> None:
        self._store = store
        self._workers = workers
        self._background = background
        self._lock: IO[str] | None = None
        self._server: asyncio.AbstractServer | None = None
        self._path: Path | None = None
        self._pool_dir: Path | None = None

    @property
    def serving(self) -> bool:
        return self._server is not None

    @property
    def path(self) -> Path | None:
        return self._path if self.serving else None

    def start(self, pool_dir: Path) -> None:
        """Serve ``pool_dir``'s socket, now if no other daemon does, else when it ends."""
        if self._pool_dir is not None:
            return  # a reopened pool is the same directory
        self._pool_dir = pool_dir
        self._background.spawn(self._serve(pool_dir), name="local-socket")

    async def _serve(self, pool_dir: Path) -> None:
        while True:
            try:
                sock = await self._workers.run(self._take, pool_dir, background=True)
            except OSError as error:
                logger.info("no local socket for %s: %s", pool_dir, error.strerror or error)
                return
            if sock is not None:
                break
            await asyncio.sleep(RETRY_S)
        self._server = await asyncio.start_unix_server(self._connected, sock=sock, limit=MAX_REQUEST + 1)
        logger.info("answering the command line at %s", self._path)

    def _take(self, pool_dir: Path) -> socket.socket | None:
        """The bound socket if this daemon now owns the pool's socket; None if another one does."""
        directory = socket_dir(pool_dir)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        lock = open(directory / OWNER_LOCK, "a", encoding="ascii")  # noqa: SIM115 - held while serving
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            logger.debug("another daemon answers the command line for %s", pool_dir)
            return None
        except OSError:
            lock.close()
            raise
        path = socket_path(pool_dir)
        try:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # left by a daemon that was killed: nobody serves it (we hold the lock)
            sock = _bind(path)
        except OSError:
            lock.close()
            raise
        self._lock, self._path = lock, path
        return sock

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        if self._lock is not None:
            if self._path is not None:
                with contextlib.suppress(OSError):
                    self._path.unlink()
            self._lock.close()  # releases the flock: another daemon may take over
            self._lock = None

    # ----- one connection -------------------------------------------------------------------------

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            answer = await self._answer_line(reader)
            writer.write(encode_answer(answer))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            logger.debug("a command-line connection ended early: %s", error)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer_line(self, reader: asyncio.StreamReader) -> Answer | Unavailable:
        try:
            line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_S)
        except (TimeoutError, asyncio.TimeoutError):
            return Unavailable("the request did not arrive in time")
        except ValueError:  # over the limit
            return Unavailable(f"the request is over {MAX_REQUEST} bytes")
        try:
            request = decode_request(line)
        except ProtocolError as error:
            logger.warning("a bad request on the local socket: %s", error)
            return Unavailable(f"bad request: {error}")
        store = await self._store.get(STORE_WAIT_S)
        if store is None:
            return Unavailable("the daemon's pool is not open")
        if request.config != config_digest(store.config):
            return Unavailable("the daemon's pool configuration differs from the caller's")
        try:
            return await self._workers.run(answer_now, store, request.args)
        except Exception:  # a bug: the caller runs it itself and shows what happens there
            logger.exception("the local socket's %s failed", request.command)
            return Unavailable("the daemon failed to answer")


def answer_now(store: MemoryStore, args: ReadArgs) -> Answer:
    """``reads.answer`` on the pool as it is now (writes by other processes seen first)."""
    from carryover.local.reads import answer

    store.refresh()  # what the command line's freshly opened store would see
    return answer(store, args)

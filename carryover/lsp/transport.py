"""How the server talks to its client: stdio read by the event loop itself, or TCP.

When stdin is a pipe or socket (how editors start servers) it is read by the event loop; pygls'
reader would hop to a thread for every header line and body, which at hundreds of notifications a
second costs more than handling them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
import threading
from typing import TYPE_CHECKING, BinaryIO

from pygls.io_ import StdoutWriter, run_async

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

logger = logging.getLogger(__name__)

READ_LIMIT = 64 * 2**20


def is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def serve_stdio_pipe(server: LanguageServer, stdout: BinaryIO | None = None) -> None:
    """Serve the client on this process's stdin/stdout until it exits or the pipe breaks."""
    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    try:
        asyncio.run(_read_pipe(server))
    except BrokenPipeError:
        logger.error("the connection to the client is lost; shutting down")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()  # type: ignore[no-untyped-call]


async def _read_pipe(server: LanguageServer) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    assert server._stop_event is not None
    await run_async(
        stop_event=server._stop_event,
        reader=reader,
        protocol=server.protocol,
        logger=logging.getLogger("pygls.io_"),
        error_handler=server.report_server_error,
    )

"""``initialize`` answered before pygls is imported: what ``carryover serve`` does on stdio.

pygls and lsprotocol take 0.5-0.9 s to import (lsprotocol.types alone builds a thousand attrs
classes), and the server cannot exist before they are. So the stdio server starts importing them
in a thread and meanwhile reads its input itself (transport.py's Framer): the client's
``initialize`` request is answered at once from ``initialize_answer.py`` — the InitializeResult
pygls computes for the registered features, generated from them (``python -m carryover.lsp.early
--write``) — with the one part that depends on the client, the position encoding, chosen by pygls'
own rule. Every message (``initialize`` included) is kept and handed to the real server, in
order, once it exists: pygls initializes exactly as if it had answered, and its own answer to
``initialize`` is compared with the one sent and dropped (a difference is logged as an error; the
tests check there is none, for VS Code's, Neovim's, Emacs's and an empty set of capabilities, and
that the file matches what the features give today). The next queued message is handed over only
after pygls answered ``initialize``, as a client that waits for the answer would send it.

An ``initialize`` whose params are not an object with an object ``capabilities`` is not answered
early: pygls answers it (with the error it deserves).

This module imports neither pygls nor lsprotocol at module level (``carryover serve`` imports it
first).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from carryover.lsp.transport import Body, Event, Framer, deliver, is_pipe, log_fault

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer
    from pygls.protocol import JsonRPCProtocol

logger = logging.getLogger(__name__)

SUPPORTED_ENCODINGS = ("utf-8", "utf-16", "utf-32")
DEFAULT_ENCODING = "utf-16"
ANSWER_WAIT_S = 60.0
"""How long the replay waits for pygls' own answer to ``initialize`` before going on (logged)."""
ANSWER_FILE = Path(__file__).with_name("initialize_answer.py")


def position_encoding(capabilities: dict[str, Any]) -> str:
    """pygls' ``ServerCapabilitiesBuilder.choose_position_encoding`` on raw JSON: the client's first
    supported preference, else UTF-16."""
    general = capabilities.get("general")
    if not isinstance(general, dict):
        return DEFAULT_ENCODING
    encodings = general.get("positionEncodings")
    if not isinstance(encodings, list):
        return DEFAULT_ENCODING
    for encoding in encodings:
        if encoding in SUPPORTED_ENCODINGS:
            return str(encoding)
    return DEFAULT_ENCODING


def early_result(params: object) -> dict[str, Any] | None:
    """The InitializeResult for ``params`` (raw JSON), or None when pygls should answer itself."""
    if not isinstance(params, dict) or not isinstance(params.get("capabilities"), dict):
        return None
    from carryover.lsp.initialize_answer import CAPABILITIES, SERVER_INFO

    client = params["capabilities"]
    capabilities = json.loads(json.dumps(CAPABILITIES))  # a copy: the module's stays as generated
    capabilities["positionEncoding"] = position_encoding(client)
    # pygls: willSave = (the client's willSave) and (a willSave handler); we register none, so the
    # field is false where the client states one and absent where it does not.
    document = client.get("textDocument")
    sync = document.get("synchronization") if isinstance(document, dict) else None
    if isinstance(sync, dict) and isinstance(capabilities.get("textDocumentSync"), dict):
        for name in ("willSave", "willSaveWaitUntil"):
            if sync.get(name) is not None:
                capabilities["textDocumentSync"][name] = False
    return {"capabilities": capabilities, "serverInfo": dict(SERVER_INFO)}


def frame(message: dict[str, Any]) -> bytes:
    """Framed as pygls frames what it sends."""
    body = json.dumps(message).encode("utf-8")
    header = f"Content-Length: {len(body)}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
    return header.encode("ascii") + body


# ----- generating the answer from the features --------------------------------------------------


def pygls_result(server: LanguageServer, params: dict[str, Any]) -> dict[str, Any]:
    """What pygls answers ``initialize`` with, for ``server``'s features and these params (JSON), as
    ``LanguageServerProtocol.lsp_initialize`` computes it."""
    from lsprotocol import types as lsp
    from pygls.capabilities import ServerCapabilitiesBuilder

    protocol: Any = server.protocol
    converter = protocol._converter
    parsed = converter.structure(params, lsp.InitializeParams)
    encoding = ServerCapabilitiesBuilder.choose_position_encoding(parsed.capabilities)
    features = protocol.fm
    builder: Any = ServerCapabilitiesBuilder(
        parsed.capabilities,
        set({**features.features, **features.builtin_features}.keys()),
        features.feature_options,
        list(features.commands.keys()),
        server._text_document_sync_kind,
        server._notebook_document_sync,
        encoding,
    )
    capabilities = builder.build()
    result = lsp.InitializeResult(capabilities=capabilities, server_info=protocol.server_info)
    unstructured: dict[str, Any] = json.loads(json.dumps(converter.unstructure(result)))
    return unstructured


def generated_source() -> str:
    """initialize_answer.py as the registered features give it now."""
    import pprint

    from lsprotocol import types as lsp

    from carryover.lsp.app import create_server

    server = create_server()
    registered = server.protocol.fm.features
    for method in (lsp.TEXT_DOCUMENT_WILL_SAVE, lsp.TEXT_DOCUMENT_WILL_SAVE_WAIT_UNTIL):
        if method in registered:  # early_result assumes there is no handler for them
            raise RuntimeError(f"{method} is registered: teach early_result its capability")
    result = pygls_result(server, {"processId": None, "rootUri": None, "capabilities": {}})
    capabilities = dict(result["capabilities"])
    capabilities.pop("positionEncoding", None)
    return (
        '"""What pygls answers ``initialize`` with (generated: ``python -m carryover.lsp.early --write``;\n'
        "tests/test_startup.py fails when the features no longer give this). ``positionEncoding`` is\n"
        'chosen per client (early.py)."""\n\n'
        "from typing import Any\n\n"
        "# fmt: off\n"
        f"CAPABILITIES: dict[str, Any] = {pprint.pformat(capabilities, width=100, sort_dicts=True)}\n\n"
        f"SERVER_INFO: dict[str, Any] = {pprint.pformat(result['serverInfo'], sort_dicts=True)}\n"
        "# fmt: on\n"
    )


# ----- the stdio server --------------------------------------------------------------------------


class _Early(asyncio.Protocol):
    """Reads the client before the server exists: answers ``initialize``, keeps every body."""

    def __init__(self, stdout: BinaryIO) -> None:
        self.framer = Framer()
        self.stdout = stdout
        self.pending: collections.deque[Body] = collections.deque()
        self.protocol: JsonRPCProtocol | None = None  # set once every pending body was handed over
        self.early_id: int | str | None = None
        self.early_body: Body | None = None
        self.early_result: dict[str, Any] | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.arrived = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        events = self.framer.feed(data)
        while events:
            self._handle(events)
            events = self.framer.feed(b"")

    def eof_received(self) -> bool | None:
        self._handle(self.framer.end())
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.framer.closed:
            self._handle(self.framer.end())
        asyncio.get_running_loop().call_soon(self._finish)

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if not isinstance(event, Body):
                log_fault(event)
                continue
            if self.protocol is not None:
                if not deliver(self.protocol, event.data, event.note):
                    self.framer.quiet()
                continue
            if self.early_body is None and event.note is None:
                self._maybe_answer(event)
            self.pending.append(event)
            self.arrived.set()

    def _maybe_answer(self, body: Body) -> None:
        try:
            message = json.loads(body.data)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return
        if message.get("method") != "initialize":
            return
        msg_id = message.get("id")
        if isinstance(msg_id, bool) or not isinstance(msg_id, (int, str)):
            return
        result = early_result(message.get("params"))
        if result is None:
            return
        self.stdout.write(frame({"id": msg_id, "jsonrpc": "2.0", "result": result}))
        self.stdout.flush()
        self.early_id, self.early_body, self.early_result = msg_id, body, result
        logger.debug("initialize answered before the server was imported")

    async def hand_over(self, protocol: JsonRPCProtocol, answered: asyncio.Future[None]) -> None:
        """Deliver every kept body in order (waiting for pygls' answer to ``initialize`` before the
        next one), then deliver as they come."""
        while self.pending:
            body = self.pending.popleft()
            if not deliver(protocol, body.data, body.note):
                self.framer.quiet()
            if body is self.early_body:
                try:
                    await asyncio.wait_for(asyncio.shield(answered), ANSWER_WAIT_S)
                except (TimeoutError, asyncio.TimeoutError):
                    logger.error("pygls did not answer initialize within %.0f s", ANSWER_WAIT_S)
        self.protocol = protocol


class _DropEarlyAnswer:
    """pygls' writer, minus pygls' own answer to the ``initialize`` already answered (compared with
    it first)."""

    def __init__(self, inner: Any, reader: _Early, answered: asyncio.Future[None]) -> None:
        self._inner = inner
        self._reader = reader
        self._answered = answered

    def write(self, data: bytes) -> None:
        if self._reader.early_body is not None and not self._answered.done() and self._is_early_answer(data):
            return
        self._inner.write(data)

    def close(self) -> None:
        self._inner.close()

    def _is_early_answer(self, data: bytes) -> bool:
        _, sep, body = data.partition(b"\r\n\r\n")
        try:
            message = json.loads(body if sep else data)
        except (UnicodeDecodeError, ValueError):
            return False
        if not isinstance(message, dict) or "method" in message or message.get("id") != self._reader.early_id:
            return False
        if message.get("result") != self._reader.early_result:
            logger.error(
                "the initialize answer sent before the import differs from pygls' own: sent %s, pygls %s",
                json.dumps(self._reader.early_result, sort_keys=True),
                json.dumps(message.get("result", message.get("error")), sort_keys=True),
            )
        self._answered.set_result(None)
        return True


def serve_stdio_early(
    make_server: Callable[[], LanguageServer],
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    on_built: Callable[[], None] | None = None,
) -> None:
    """Serve on stdio, answering ``initialize`` while ``make_server`` (which imports pygls) runs in a
    thread; ``on_built`` runs in that thread once it returned."""
    built: concurrent.futures.Future[LanguageServer] = concurrent.futures.Future()

    def build() -> None:
        try:
            server = make_server()
            if on_built is not None:
                on_built()
        except BaseException as error:  # noqa: BLE001 - handed to the loop, which raises it
            built.set_exception(error)
        else:
            built.set_result(server)

    threading.Thread(target=build, name="carryover-import", daemon=True).start()
    out = stdout or sys.stdout.buffer
    server: LanguageServer | None = None
    try:
        server = asyncio.run(_serve(built, stdin or sys.stdin.buffer, out))
    except BrokenPipeError:
        logger.error("the connection to the client is lost; shutting down")
    except KeyboardInterrupt:
        pass
    finally:
        if server is None and built.done() and built.exception() is None:
            server = built.result()
        if server is not None:
            server.shutdown()  # type: ignore[no-untyped-call]


async def _serve(
    built: concurrent.futures.Future[LanguageServer], stdin: BinaryIO, stdout: BinaryIO
) -> LanguageServer:
    loop = asyncio.get_running_loop()
    reader = _Early(stdout)
    if is_pipe(stdin.fileno()):
        await loop.connect_read_pipe(lambda: reader, stdin)
    else:  # a regular file: a thread reads and hands over
        threading.Thread(target=_read_file, args=(loop, reader, stdin), daemon=True).start()
    server = await asyncio.wrap_future(built)
    from pygls.io_ import StdoutWriter

    server._stop_event = threading.Event()
    answered: asyncio.Future[None] = loop.create_future()
    server.protocol.set_writer(_DropEarlyAnswer(StdoutWriter(stdout), reader, answered))
    await reader.hand_over(server.protocol, answered)
    await reader.done
    return server


def _read_file(loop: asyncio.AbstractEventLoop, reader: _Early, stdin: BinaryIO) -> None:
    fd = stdin.fileno()
    with contextlib.suppress(RuntimeError):  # the loop closed first
        while chunk := os.read(fd, 2**16):
            loop.call_soon_threadsafe(reader.data_received, chunk)
        loop.call_soon_threadsafe(reader.connection_lost, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate carryover/lsp/initialize_answer.py.")
    parser.add_argument("--write", action="store_true", help="write the file (else: check it)")
    args = parser.parse_args(argv)
    source = generated_source()
    if args.write:
        ANSWER_FILE.write_text(source, encoding="utf-8")
        return 0
    current = ANSWER_FILE.read_text(encoding="utf-8") if ANSWER_FILE.exists() else ""
    if current != source:
        sys.stderr.write(f"{ANSWER_FILE} is out of date: python -m carryover.lsp.early --write\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How the server talks to its client: LSP base-protocol framing read by the event loop itself, over
stdio or TCP.

The framing reader is ours (pygls' ``run_async`` went deaf after one framing fault: a lowercase
header name, LF line ends or a wrong Content-Length left it waiting for a header it would never
accept). ``Framer`` accepts header names in any case and LF or CRLF line ends, caps header lines
(8 KiB) and bodies (64 MiB) and skips what is over, and resynchronises at the next
``Content-Length:`` after garbage. A wrong Content-Length is noticed without waiting for bytes that
will never come: a raw line break can never be part of a JSON body, so ``Content-Length: N`` plus a
line break inside a declared body means a new message started there. Each bad message is one log
line (warning), never a traceback; what JSON-RPC answers (-32700, -32600) is sent by ``deliver``.

TCP (``carryover serve --tcp``) serves one connection after another, each with a fresh server from
the factory; a connection that closes, or looks like HTTP (a browser's cross-origin POST), ends only
that connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import stat
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer
    from pygls.protocol import JsonRPCProtocol

logger = logging.getLogger(__name__)

MAX_HEADER_LINE = 8 * 1024
MAX_BODY = 64 * 2**20
PARSE_ERROR = -32700

_MARKER = re.compile(rb"content-length[ \t]{0,8}:", re.IGNORECASE)
_RESYNC = re.compile(rb"content-length[ \t]{0,8}:[ \t]{0,8}\d{1,20}[ \t]{0,8}\r?\n", re.IGNORECASE)
_TAIL = 80  # longer than any _RESYNC match: bytes kept back when scanning across reads


def _prefixes_of_resync() -> re.Pattern[bytes]:
    """Matches what a _RESYNC match can begin with (the rest may not have arrived yet)."""
    parts = [re.escape(bytes([c])) for c in b"content-length"]
    parts += [rb"[ \t]{0,8}", rb":", rb"[ \t]{0,8}", rb"\d{1,20}", rb"[ \t]{0,8}", rb"\r?"]
    pattern = b""
    for part in reversed(parts[1:]):
        pattern = b"(?:" + part + pattern + b")?"
    return re.compile(parts[0] + pattern, re.IGNORECASE)


_RESYNC_PREFIX = _prefixes_of_resync()
_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[ \t]*(.*?)[ \t]*")
_HTTP_REQUEST_LINE = re.compile(rb"[A-Z]{3,10} \S+ HTTP/\d(?:\.\d)?")
_HTTP_HEADERS = frozenset({b"host", b"origin"})  # every browser request has them; no LSP client does


@attrs.frozen
class Body:
    """A message body, as framed; ``note`` says what was wrong with its frame, if anything was."""

    data: bytes
    note: str | None = None


@attrs.frozen
class Fault:
    """Bytes that were not a message, skipped: one log line."""

    message: str


@attrs.frozen
class HttpRequest:
    """The peer speaks HTTP, not LSP: the connection is to be closed."""

    message: str


Event = Body | Fault | HttpRequest

_HEAD, _BODY, _SKIP_BODY, _SKIP_LINE, _CLOSED = range(5)


class Framer:
    """LSP base-protocol framing, without I/O: ``feed`` bytes, get events."""

    def __init__(
        self, *, max_header_line: int = MAX_HEADER_LINE, max_body: int = MAX_BODY, reject_http: bool = False
    ) -> None:
        self.max_header_line = max_header_line
        self.max_body = max_body
        self.reject_http = reject_http
        self._buf = bytearray()
        self._state = _HEAD
        self._need = 0  # _BODY: the declared length; _SKIP_BODY: what is left to skip
        self._scanned = 0  # _BODY: how far the body was searched for a new message
        self._garbage = 0
        self._quiet = False  # garbage right after a logged fault is part of that fault
        self._first_line = True
        self._events: list[Event] = []
        self._new_frame()

    def _new_frame(self) -> None:
        self._headers = False
        self._length: int | None = None
        self._bad: str | None = None
        self._bad_logged = False
        self._length_known = True  # False: the headers did not say one length we can trust
        self._note: str | None = None

    @property
    def closed(self) -> bool:
        return self._state == _CLOSED

    def feed(self, data: bytes) -> list[Event]:
        """Add ``data``; the events up to and including the next body. Call ``feed(b"")`` again
        (after handling that body) until it returns nothing."""
        if self._state == _CLOSED:
            return []
        self._buf += data
        while self._step():
            if self._events and isinstance(self._events[-1], Body):
                break
        events, self._events = self._events, []
        return events

    def quiet(self) -> None:
        """The last body was bad (and logged): bytes right after it are part of that fault."""
        self._quiet = True

    def end(self) -> list[Event]:
        """The input ended: what was left unfinished, as faults."""
        if self._state == _BODY and len(self._buf) >= self._need:  # it was waiting for what follows
            self._events.append(Body(bytes(self._buf[: self._need]), self._note))
            if self._buf[self._need :].strip():
                self._garbage += len(self._buf) - self._need
        elif self._state == _BODY:
            self._fault(f"the input ended inside a message ({len(self._buf)} of {self._need} bytes)")
        elif self._state == _HEAD and self._headers:
            self._fault("the input ended inside a message's headers")
        elif self._state == _HEAD and self._buf.strip():
            self._garbage += len(self._buf)
        self._flush_garbage()
        self._state = _CLOSED
        self._buf.clear()
        events, self._events = self._events, []
        return events

    # ----- the states -----------------------------------------------------------------------------

    def _step(self) -> bool:
        """Advance by one unit (a line, a body, a skipped chunk); False: more input is needed."""
        if self._state == _HEAD:
            return self._step_head()
        if self._state == _BODY:
            return self._step_body()
        if self._state == _SKIP_BODY:
            return self._step_skip_body()
        if self._state == _SKIP_LINE:
            return self._step_skip_line()
        return False

    def _step_head(self) -> bool:
        buf = self._buf
        end = buf.find(b"\n", 0, self.max_header_line + 1)
        if end < 0:
            if len(buf) <= self.max_header_line:
                return False
            marker = _MARKER.search(buf, 1, self.max_header_line + 1)
            if marker is not None:  # a new message after garbage on the same line
                self._broken(marker.start())
                del buf[: marker.start()]
                return True
            self._oversize_line()
            return True
        line = bytes(buf[:end])
        del buf[: end + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        self._line(line)
        return self._state != _CLOSED

    def _step_body(self) -> bool:
        buf, need = self._buf, self._need
        limit = min(len(buf), need + _TAIL)
        if limit > self._scanned:
            found = _RESYNC.search(buf, max(0, self._scanned - _TAIL), limit)
            if found is not None and found.start() < need:
                # A raw line break cannot be part of a JSON body: a new message starts here.
                at = found.start()
                data = bytes(buf[:at])
                del buf[:at]
                self._state = _HEAD
                self._new_frame()
                wrong = f"Content-Length {need} was wrong: the next message began after {at} bytes"
                self._events.append(Body(data, wrong))
                return True
            self._scanned = limit
        if len(buf) < need:
            return False
        if len(buf) < need + _TAIL and self._undecided(need):
            return False
        data = bytes(buf[:need])
        del buf[:need]
        note = self._note
        self._state = _HEAD
        self._new_frame()
        self._events.append(Body(data, note))
        return True

    def _undecided(self, need: int) -> bool:
        """The body ends in what may be the start of a new message's header, and it is not JSON as
        declared: wait for the bytes that tell (a wrong Content-Length, or a bad body)."""
        buf = self._buf
        start = max(0, need - _TAIL)
        tail = bytes(buf[start:need])
        for found in re.finditer(rb"[cC]", tail):
            if _RESYNC_PREFIX.fullmatch(tail, found.start()):
                break
        else:
            return False
        try:
            json.loads(bytes(buf[:need]))
        except (ValueError, RecursionError):
            return True
        return False

    def _step_skip_body(self) -> bool:
        buf, left = self._buf, self._need
        found = _RESYNC.search(buf, 0, min(len(buf), left + _TAIL))
        if found is not None and found.start() < left:
            logger.debug("the skipped message ended after all: a new one began inside it")
            del buf[: found.start()]
            self._state = _HEAD
            return True
        if len(buf) >= left:
            del buf[:left]
            self._state = _HEAD
            return True
        drop = len(buf) - _TAIL
        if drop > 0:
            del buf[:drop]
            self._need -= drop
        return False

    def _step_skip_line(self) -> bool:
        buf = self._buf
        end = buf.find(b"\n")
        marker = _MARKER.search(buf, 0, end if end >= 0 else len(buf))
        if marker is not None:
            del buf[: marker.start()]
            self._state = _HEAD
            if self._headers:  # a new message starts inside the long line: the one it was in is gone
                self._new_frame()
            return True
        if end >= 0:
            del buf[: end + 1]
            self._state = _HEAD
            return True
        drop = len(buf) - _TAIL
        if drop > 0:
            del buf[:drop]
        return False

    # ----- header lines ---------------------------------------------------------------------------

    def _line(self, line: bytes) -> None:
        first, self._first_line = self._first_line, False
        if self.reject_http and first and _HTTP_REQUEST_LINE.fullmatch(line):
            self._http(f"an HTTP request ({line[:60].decode('latin-1')!r}), not LSP")
            return
        marker = _MARKER.search(line, 1)
        if marker is not None:  # a new message glued to what came before it
            self._broken(marker.start())
            self._buf[:0] = line[marker.start() :] + b"\n"
            return
        if not line.strip():
            if self._headers:
                self._end_headers()
            return  # blank lines between messages are harmless
        header = _HEADER.fullmatch(line)
        if header is None:
            if self._headers:
                self._note = "a malformed header line was ignored"
            else:
                self._garbage += len(line) + 1
            return
        if not self._headers:
            self._flush_garbage()
            self._quiet = False
            self._headers = True
        name, value = header[1].lower(), header[2]
        if self.reject_http and name in _HTTP_HEADERS:
            self._http(f"an HTTP request (a {name.decode()!r} header), not LSP")
            return
        if name != b"content-length":
            return
        if not value.isdigit() or len(value) > 15:
            self._bad = self._bad or f"Content-Length {value[:40].decode('latin-1')!r} is not a number"
            self._length_known = False
            return
        length = int(value)
        if self._length is not None and length != self._length:
            self._bad = self._bad or f"two different Content-Length headers ({self._length}, {length})"
            self._length_known = False
            return
        self._length = length

    def _end_headers(self) -> None:
        length = self._length if self._length_known else None
        if self._bad is not None:
            if not self._bad_logged:
                self._fault(f"{self._bad}; the message was skipped")
            self._new_frame()
            if length is not None:
                self._skip(length)
            return
        if length is None:
            self._fault("a message without a Content-Length header was skipped")
            self._new_frame()
            return
        note = self._note
        self._new_frame()
        if length > self.max_body:
            self._fault(f"a message of {length} bytes (over the {self.max_body}-byte limit) was skipped")
            self._skip(length)
            return
        self._note = note
        self._state = _BODY
        self._need = length
        self._scanned = 0

    def _skip(self, length: int) -> None:
        self._state = _SKIP_BODY
        self._need = length

    def _oversize_line(self) -> None:
        """A header line over the limit, not ended yet: skip to its end."""
        self._oversize_fault()
        self._state = _SKIP_LINE
        del self._buf[: self.max_header_line + 1 - _TAIL]  # searched already; the rest is next

    def _oversize_fault(self) -> None:
        if self._headers:
            self._bad = f"a header line over {self.max_header_line} bytes"
            self._bad_logged = True
        self._flush_garbage()
        self._fault(f"a header line over {self.max_header_line} bytes was skipped")

    def _broken(self, garbage: int) -> None:
        """``garbage`` bytes, then a new message: the message being read, if any, is abandoned."""
        if self._headers:
            if not self._bad_logged:
                self._fault(f"{self._bad or 'a message whose headers did not end'}; it was skipped")
            self._new_frame()
        else:
            self._garbage += garbage
        self._flush_garbage()
        self._quiet = False

    def _flush_garbage(self) -> None:
        if self._garbage and not self._quiet:
            self._events.append(Fault(f"skipped {self._garbage} bytes that were not an LSP message"))
        self._garbage = 0

    def _fault(self, message: str) -> None:
        self._flush_garbage()
        self._events.append(Fault(message))
        self._quiet = True  # what follows a broken frame (its body, say) is not a new fault

    def _http(self, message: str) -> None:
        self._events.append(HttpRequest(message))
        self._state = _CLOSED
        self._buf.clear()


# ----- from a body to the protocol ---------------------------------------------------------------


def deliver(protocol: JsonRPCProtocol, body: bytes, note: str | None = None) -> bool:
    """Parse one body and hand it to the protocol; a body that is not a JSON-RPC 2.0 message is
    answered as JSON-RPC says (-32700 Parse error, -32600 Invalid Request) and logged in one line.
    Returns whether the body was JSON."""
    from carryover.lsp.protocol import envelope_error, error_response

    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        _parse_error(protocol, f"the body is not UTF-8 ({error.reason} at byte {error.start})", note)
        return False
    except (ValueError, RecursionError) as error:  # JSONDecodeError, too many digits, too deep
        _parse_error(protocol, f"the body is not JSON ({_short(error)})", note)
        return False
    if note is not None:
        logger.warning("%s; the message was handled", note)
    problem = envelope_error(data)
    if problem is not None:
        msg_id, code, reason = problem
        logger.warning("%s", reason)
        protocol._send_data(error_response(msg_id, code, reason))
        return True
    try:
        message = protocol.structure_message(data)
        protocol.handle_message(message)
    except BrokenPipeError:
        raise
    except Exception:  # a bug in handling a well-formed message: keep serving, with the traceback
        logger.exception("a %s message could not be handled", data.get("method", "response"))
    return True


def _parse_error(protocol: JsonRPCProtocol, reason: str, note: str | None) -> None:
    from carryover.lsp.protocol import error_response

    logger.warning("parse error: %s%s", reason, f" ({note})" if note else "")
    protocol._send_data(error_response(None, PARSE_ERROR, f"Parse error: {reason}"))


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def log_fault(event: Fault | HttpRequest) -> None:
    logger.warning("%s", event.message)


class _Reader(asyncio.Protocol):
    """Feeds what arrives to a Framer and the bodies to the protocol; ``done`` when the input ends."""

    def __init__(self, protocol: JsonRPCProtocol, *, reject_http: bool = False) -> None:
        self.protocol = protocol
        self.framer = Framer(reject_http=reject_http)
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

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
        # After what is already queued (a last log line on its way to the client, say).
        asyncio.get_running_loop().call_soon(self._finish)

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Body):
                if not deliver(self.protocol, event.data, event.note):
                    self.framer.quiet()
            elif isinstance(event, HttpRequest):
                log_fault(event)
                if self.transport is not None:
                    self.transport.close()
            else:
                log_fault(event)


# ----- stdio ---------------------------------------------------------------------------------------


def is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


def serve_stdio(
    server: LanguageServer, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
) -> None:
    """Serve the client on stdin/stdout until the input ends or the client says exit (which raises
    SystemExit with LSP's exit code, as pygls does)."""
    from pygls.io_ import StdoutWriter

    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    try:
        asyncio.run(_read_stdio(server, stdin or sys.stdin.buffer))
    except BrokenPipeError:
        logger.error("the connection to the client is lost; shutting down")
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()  # type: ignore[no-untyped-call]


def serve_stdio_pipe(server: LanguageServer, stdout: BinaryIO | None = None) -> None:
    """``serve_stdio`` on this process's stdin (what ``CarryoverServer.start_io`` calls)."""
    serve_stdio(server, None, stdout)


async def _read_stdio(server: LanguageServer, stdin: BinaryIO) -> None:
    loop = asyncio.get_running_loop()
    reader = _Reader(server.protocol)
    if is_pipe(stdin.fileno()):
        await loop.connect_read_pipe(lambda: reader, stdin)
    else:  # a regular file: no event-loop reading for those; a thread reads and hands over
        threading.Thread(target=_read_file, args=(loop, reader, stdin), daemon=True).start()
    await reader.done


def _read_file(loop: asyncio.AbstractEventLoop, reader: _Reader, stdin: BinaryIO) -> None:
    fd = stdin.fileno()
    with contextlib.suppress(RuntimeError):  # the loop closed first
        while chunk := os.read(fd, 2**16):
            loop.call_soon_threadsafe(reader.data_received, chunk)
        loop.call_soon_threadsafe(reader.connection_lost, None)


# ----- TCP -----------------------------------------------------------------------------------------


class _TransportWriter:
    """pygls' writer interface on an asyncio transport."""

    def __init__(self, transport: asyncio.WriteTransport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._transport.close()


def serve_tcp(make_server: Callable[[], LanguageServer], host: str, port: int) -> None:
    """Listen on ``host:port`` and serve each connection with a fresh server until interrupted.
    A connection that ends (``exit``, a close, an HTTP request) ends only that connection."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_tcp(make_server, host, port))


async def _serve_tcp(make_server: Callable[[], LanguageServer], host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    sessions: set[asyncio.Task[None]] = set()

    def connected(connection: _Connection) -> None:
        task = loop.create_task(_session(connection))
        sessions.add(task)
        task.add_done_callback(sessions.discard)

    listener = await loop.create_server(lambda: _Connection(make_server(), connected), host, port)
    addresses = ", ".join(_format_address(sock.getsockname()) for sock in listener.sockets)
    logger.info("listening on %s", addresses)
    async with listener:
        await listener.serve_forever()


class _Connection(_Reader):
    """One TCP client, with a server of its own."""

    def __init__(self, server: LanguageServer, on_made: Callable[[_Connection], None]) -> None:
        super().__init__(server.protocol, reject_http=True)
        self.server = server
        self._on_made = on_made

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert isinstance(transport, asyncio.WriteTransport)
        self.protocol.set_writer(_TransportWriter(transport))
        self.protocol.end_connection = transport.close  # type: ignore[attr-defined]  # CarryoverProtocol
        self._on_made(self)


async def _session(connection: _Connection) -> None:
    server = connection.server
    peer = connection.transport.get_extra_info("peername") if connection.transport else None
    logger.info("client connected from %s", peer)
    try:
        await connection.done
    finally:
        close: Any = getattr(server, "close", None)
        if not getattr(server.protocol, "_shutdown", False) and close is not None:
            try:
                await close()
            except Exception:  # the connection is gone either way; the next one gets a new server
                logger.exception("closing the session of %s failed", peer)
        server.shutdown()  # type: ignore[no-untyped-call]
        logger.info("client %s disconnected", peer)


def _format_address(address: Any) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

"""Shared by the transport and protocol-fuzz tests: a raw LSP client that writes exactly the bytes it
is given (framing faults included) and reads the server's well-formed output, over a subprocess'
pipes or a TCP connection; and the framing faults themselves.

Run as a script it measures a server (``PYTHONPATH`` decides which checkout) against every fault,
restarting it after one that killed it or left it deaf:

    python tests/test_transport_support.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
ANSWER_S = 5.0
STARTUP_S = 60.0


def body(message: Any) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def frame(
    content: bytes | Any, *, length: int | None = None, name: bytes = b"Content-Length", eol: bytes = b"\r\n"
) -> bytes:
    data = content if isinstance(content, bytes) else body(content)
    size = len(data) if length is None else length
    return name + b": " + str(size).encode() + eol + eol + data


def request(msg_id: str, method: str, params: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def execute(msg_id: str, command: str, arguments: Any = None) -> dict[str, Any]:
    params: dict[str, Any] = {"command": command}
    if arguments is not None:
        params["arguments"] = arguments
    return request(msg_id, "workspace/executeCommand", params)


def pause(msg_id: str) -> dict[str, Any]:
    """A request every version of the server answers at once, without the pool."""
    return execute(msg_id, "carryover.pauseCapture")


class RawClient:
    """Writes bytes; reads Content-Length frames; answers the server's own requests with null."""

    def __init__(self, reader: asyncio.StreamReader, write: Callable[[bytes], Any]) -> None:
        self.reader = reader
        self._write = write
        self.messages: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self.closed = False
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                length = None
                while True:
                    line = await self.reader.readline()
                    if not line:
                        return
                    if not line.strip():
                        break
                    name, _, value = line.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                assert length is not None, "the server sent a frame without Content-Length"
                message = json.loads(await self.reader.readexactly(length))
                if "method" in message and "id" in message:  # a request from the server
                    await self.send(frame({"jsonrpc": "2.0", "id": message["id"], "result": None}))
                self.messages.append(message)
                self._arrived.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self.closed = True
            self._arrived.set()

    async def send(self, data: bytes) -> None:
        result = self._write(data)
        if asyncio.iscoroutine(result):
            await result

    async def wait(
        self, check: Callable[[dict[str, Any]], bool], timeout_s: float = ANSWER_S
    ) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        seen = 0
        while True:
            for message in self.messages[seen:]:
                if check(message):
                    return message
            seen = len(self.messages)
            if self.closed:
                return None
            left = deadline - loop.time()
            if left <= 0:
                return None
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    async def answer(self, msg_id: Any, timeout_s: float = ANSWER_S) -> dict[str, Any] | None:
        return await self.wait(lambda m: "method" not in m and m.get("id") == msg_id, timeout_s)

    async def call(self, message: dict[str, Any], timeout_s: float = ANSWER_S) -> dict[str, Any] | None:
        await self.send(frame(message))
        return await self.answer(message["id"], timeout_s)

    async def initialize(self, root: Path) -> None:
        params: dict[str, Any] = {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}
        answer = await self.call(request("init", "initialize", params), STARTUP_S)
        assert answer is not None and "result" in answer, answer
        await self.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))

    def errors(self, since: int = 0) -> list[tuple[Any, int]]:
        """(id, code) of every error answer after the first ``since`` messages."""
        return [(m.get("id"), m["error"]["code"]) for m in self.messages[since:] if "error" in m]


class Server(NamedTuple):
    process: asyncio.subprocess.Process
    client: RawClient
    stderr: list[str]
    root: Path


def server_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT))
    env["CARRYOVER_HOME"] = str(root / "home")
    env.pop("CARRYOVER_EMBEDDER", None)
    return env


@contextlib.asynccontextmanager
async def stdio_server(root: Path, *args: str) -> AsyncIterator[Server]:
    """``python -m carryover.lsp`` on pipes, on an empty pool in ``root``, initialized."""
    (root / "home").mkdir(parents=True, exist_ok=True)
    (root / "ws").mkdir(exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "carryover.lsp", "--db", str(root / "pool"), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=server_env(root), cwd=root, limit=2**24,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    stdin = process.stdin

    async def write(data: bytes) -> None:
        stdin.write(data)
        await stdin.drain()

    stderr: list[str] = []

    async def collect(stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            stderr.append(line.decode(errors="replace").rstrip("\n"))

    collector = asyncio.get_running_loop().create_task(collect(process.stderr))
    client = RawClient(process.stdout, write)
    try:
        await client.initialize(root / "ws")
        yield Server(process, client, stderr, root)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ConnectionError):
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        await asyncio.wait_for(collector, 5)


# ----- the framing faults --------------------------------------------------------------------------

MIB = 2**20


class Fault(NamedTuple):
    name: str
    data: bytes
    answers: tuple[tuple[Any, int | None], ...] = ()
    """What the fault itself is answered with: (id, error code), code None for a result."""


def _faults() -> list[Fault]:
    a = body(pause("a"))
    nested = b"[" * 100_000 + b"]" * 100_000
    return [
        Fault("Content-Length 10 too small", frame(a, length=len(a) - 10), ((None, -32700),)),
        Fault(
            "Content-Length 25 too large",
            frame(pause("f-large"), length=len(body(pause("f-large"))) + 25),
            (("f-large", None),),
        ),
        Fault("Content-Length far too large (10^9)", frame(a, length=10**9)),
        Fault("lowercase header name", frame(pause("f-lower"), name=b"content-length"), (("f-lower", None),)),
        Fault(
            "upper-case header name, no space",
            b"CONTENT-LENGTH:"
            + str(len(body(pause("f-upper")))).encode()
            + b"\r\n\r\n"
            + body(pause("f-upper")),
            (("f-upper", None),),
        ),
        Fault("LF-only line ends", frame(pause("f-lf"), eol=b"\n"), (("f-lf", None),)),
        Fault("two different Content-Length headers", b"Content-Length: 7\r\n" + frame(a)),
        Fault(
            "two equal Content-Length headers",
            b"Content-Length: %d\r\n" % len(body(pause("f-two"))) + frame(pause("f-two")),
            (("f-two", None),),
        ),
        Fault(
            "no Content-Length (Content-Type only)",
            b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" + a,
        ),
        Fault("no headers at all", a),
        Fault("binary garbage between messages", bytes(range(256)) * 8 + b"\r\n\r\n\x00\xff"),
        Fault("text garbage lines", b"hello\r\nthis is: not lsp\r\n\r\n\r\nnor this\n"),
        Fault("non-numeric Content-Length", b"Content-Length: abc\r\n\r\n" + a),
        Fault("negative Content-Length", b"Content-Length: -5\r\n\r\n" + a),
        Fault(
            "a malformed header line inside a frame",
            b"Content-Length: %d\r\nnot a header\r\n\r\n" % len(body(pause("f-bad-line")))
            + body(pause("f-bad-line")),
            (("f-bad-line", None),),
        ),
        Fault(
            "65 MiB header line inside a frame",
            b"Content-Length: %d\r\nX-Pad: " % len(a) + b"a" * (65 * MIB) + b"\r\n\r\n" + a,
        ),
        Fault("65 MiB line of garbage", b"z" * (65 * MIB) + b"\r\n"),
        Fault("65 MiB body (over the limit)", frame(b'{"x":"' + b"b" * (65 * MIB) + b'"}')),
        Fault(
            "truncated body (the next message arrives inside it)", frame(a)[: -len(a) // 2], ((None, -32700),)
        ),
        Fault("Content-Length 0", frame(b""), ((None, -32700),)),
        Fault(
            "non-UTF-8 body", frame(b'{"jsonrpc":"2.0","id":"f-utf","method":"\xff\xfe"}'), ((None, -32700),)
        ),
        Fault("body not JSON", frame(b"{this is not json}"), ((None, -32700),)),
        Fault("JSON cut short", frame(b'{"jsonrpc":"2.0","id":'), ((None, -32700),)),
        Fault("JSON nested 100,000 deep", frame(nested), ((None, -32700),)),
        Fault("a JSON array (batch)", frame([pause("f-batch")]), ((None, -32600),)),
        Fault("a JSON number", frame(b"42"), ((None, -32600),)),
        Fault('jsonrpc "1.0"', frame({**pause("f-v1"), "jsonrpc": "1.0"}), (("f-v1", -32600),)),
        Fault(
            "no jsonrpc member",
            frame({k: v for k, v in pause("f-nov").items() if k != "jsonrpc"}),
            (("f-nov", -32600),),
        ),
        Fault(
            "a request without a method",
            frame({"jsonrpc": "2.0", "id": "f-nomethod", "params": {}}),
            (("f-nomethod", -32600),),
        ),
        Fault(
            "method is a number", frame({"jsonrpc": "2.0", "id": "f-num", "method": 5}), (("f-num", -32600),)
        ),
        Fault(
            "id is an object",
            frame({"jsonrpc": "2.0", "id": {"x": 1}, "method": "shutdown"}),
            ((None, -32600),),
        ),
        Fault(
            "params is a string", frame(request("f-pstr", "textDocument/hover", "x")), (("f-pstr", -32600),)
        ),
        Fault(
            "unknown request method",
            frame(request("f-unknown", "carryover/noSuchThing", {})),
            (("f-unknown", -32601),),
        ),
        Fault(
            "hover with params of the wrong type",
            frame(request("f-hover", "textDocument/hover", {"textDocument": 5, "position": "x"})),
            (("f-hover", -32602),),
        ),
        Fault(
            "executeCommand arguments not a list",
            frame(execute("f-args", "carryover.search", "query")),
            (("f-args", -32602),),
        ),
        Fault(
            "carryover.distill with junk arguments",
            frame(execute("f-distill", "carryover.distill", ["junk", 42, {"x": 1}])),
            (("f-distill", -32602),),
        ),
        Fault(
            "carryover.export with path true",
            frame(execute("f-export", "carryover.export", [{"path": True}])),
            (("f-export", -32602),),
        ),
        Fault(
            "malformed custom notification",
            frame({"jsonrpc": "2.0", "method": "carryover/terminalEnded", "params": {"command": 5}}),
        ),
        Fault(
            "a header inside a JSON string (escaped)",
            frame(execute("f-escaped", "x\r\nContent-Length: 5\r\n\r\n{}")),
            (("f-escaped", -32602),),
        ),
    ]


FAULTS = _faults()


class Outcome(NamedTuple):
    fault: str
    probe_answered: bool
    alive: bool
    answers: list[tuple[Any, int | None]]


async def probe(server: Server, fault: Fault, n: int) -> Outcome:
    """Send ``fault``, then a valid request; was the request answered, and what did the fault get?"""
    client = server.client
    since = len(client.messages)
    with contextlib.suppress(ConnectionError):
        await client.send(fault.data)
    probe_id = f"probe-{n}"
    answered = False
    with contextlib.suppress(ConnectionError):
        answered = await client.call(pause(probe_id)) is not None
    got = [
        (m.get("id"), m["error"]["code"] if "error" in m else None)
        for m in client.messages[since:]
        if "method" not in m and m.get("id") != probe_id
    ]
    return Outcome(fault.name, answered, server.process.returncode is None and not client.closed, got)


async def measure() -> list[Outcome]:
    """Every fault against one server, a new server after a fault that killed it or left it deaf."""
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="carryover-fuzz-") as tmp:
        index = 0
        while index < len(FAULTS):
            root = Path(tmp) / f"run{index}"
            root.mkdir()
            async with stdio_server(root) as server:
                while index < len(FAULTS):
                    outcome = await probe(server, FAULTS[index], index)
                    outcomes.append(outcome)
                    index += 1
                    if not outcome.probe_answered:
                        break
    return outcomes


def main() -> None:
    outcomes = asyncio.run(measure())
    for outcome in outcomes:
        state = "answered" if outcome.probe_answered else ("DEAF" if outcome.alive else "DEAD")
        print(f"{state:9} {outcome.fault:55} fault got {outcome.answers}")
    deaf = sum(not o.probe_answered for o in outcomes)
    print(f"{deaf} of {len(outcomes)} faults stopped the next valid request from being answered")


if __name__ == "__main__":
    main()

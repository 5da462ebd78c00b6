"""carryover/lsp/transport.py: the framing reader on its own (however the bytes are split, the same
messages come out), and ``carryover serve --tcp`` as a real daemon: loopback only, a connect-and-close
or an HTTP request ends only that connection, and clients after it are served (a pytest-lsp client
over TCP gets a hover from the seeded pool; another connects after it said exit)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import pytest
from pytest_lsp import LanguageClient

from carryover.lsp.transport import Body, Fault, Framer, HttpRequest
from tests.test_server_support import (
    GUARD,
    hover,
    hover_text,
    initialize_params,
    open_document,
    seeded_pool,
    wait_ready,
)
from tests.test_transport_support import RawClient, body, frame, pause, server_env

SAMPLE = 'import os\n\ndef load(config):\n    value = config.get("key")["inner"]\n    return value\n'

# ----- the framer ----------------------------------------------------------------------------------


def events(framer: Framer, chunks: list[bytes]) -> list[Body | Fault | HttpRequest]:
    out: list[Body | Fault | HttpRequest] = []
    for chunk in chunks:
        got = framer.feed(chunk)
        while got:
            out.extend(got)
            got = framer.feed(b"")
    out.extend(framer.end())
    return out


STREAM = b"".join(
    [
        frame(pause("1")),
        b"garbage\r\n",
        frame(pause("2"), name=b"content-length", eol=b"\n"),
        frame(pause("3"), length=len(body(pause("3"))) + 9),
        frame(b"{not json}"),
        b"Content-Length: 4\r\n" + frame(pause("lost")),
        frame(
            {
                "jsonrpc": "2.0",
                "method": "m",
                "params": {"text": "Content-Length: 5\r\n\r\n}Content-Length: 9"},
            }
        ),
        b"X-Pad: " + b"p" * 20_000 + b"\r\n",
        frame(pause("4")),
        frame(b'{"big":"' + b"Content-Length: 12 " * 10_000 + b'"}'),
        frame(pause("5")),
    ]
)


def test_the_same_messages_come_out_however_the_input_is_split() -> None:
    whole = events(Framer(), [STREAM])
    bodies = [e.data for e in whole if isinstance(e, Body)]
    assert body(pause("1")) in bodies and body(pause("2")) in bodies and body(pause("4")) in bodies
    assert body(pause("3")) in bodies and body(pause("5")) in bodies  # the wrong length was noticed
    assert b"{not json}" in bodies
    assert not [b for b in bodies if b"lost" in b]  # two different lengths: skipped
    assert [b for b in bodies if b.startswith(b'{"big"')] and [b for b in bodies if b'"params"' in b]
    faults = [e.message for e in whole if isinstance(e, Fault)]
    assert len(faults) == 3, faults  # the garbage line, the two lengths, the long header line
    rng = random.Random(12)
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 300)))
        chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
        assert events(Framer(), chunks) == whole
    assert events(Framer(), [STREAM[i : i + 1] for i in range(0, 3000)] + [STREAM[3000:]]) == whole


def test_http_is_refused_only_where_asked() -> None:
    post = b"POST / HTTP/1.1\r\nHost: 127.0.0.1:2087\r\n\r\n"
    assert isinstance(events(Framer(reject_http=True), [post])[0], HttpRequest)
    with_origin = b"Content-Length: 2\r\nOrigin: http://example.com\r\n\r\n{}"
    assert isinstance(events(Framer(reject_http=True), [with_origin])[0], HttpRequest)
    assert not [e for e in events(Framer(), [with_origin]) if isinstance(e, HttpRequest)]


# ----- TCP -----------------------------------------------------------------------------------------


class Daemon(NamedTuple):
    process: asyncio.subprocess.Process
    port: int
    stderr: list[str]


@contextlib.asynccontextmanager
async def tcp_daemon(pool: Path) -> AsyncIterator[Daemon]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "carryover.lsp", "--tcp", "127.0.0.1:0", "--db", str(pool),
        "--log-level", "info", env=server_env(pool.parent),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    stream = process.stderr
    stderr: list[str] = []
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def collect() -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip("\n")
            stderr.append(text)
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
            if found and not port.done():
                port.set_result(int(found[1]))
        if not port.done():
            port.set_exception(AssertionError("the daemon ended:\n" + "\n".join(stderr)))

    collector = asyncio.get_running_loop().create_task(collect())
    try:
        yield Daemon(process, await asyncio.wait_for(port, 60), stderr)
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 10)
        await asyncio.wait_for(collector, 5)


async def closed_without_answer(port: int, data: bytes) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_tcp_serves_client_after_client_and_refuses_http(tmp_path: Path) -> None:
    pool = seeded_pool(tmp_path)
    (tmp_path / "ws").mkdir()
    async with tcp_daemon(pool) as daemon:
        for _ in range(2):  # a local connect-and-close (a port scanner, a health check)
            _, writer = await asyncio.open_connection("127.0.0.1", daemon.port)
            writer.close()
            await writer.wait_closed()

        lsp_body = body({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
        post = (
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://attacker.example\r\n"
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % (daemon.port, len(lsp_body))
        ) + lsp_body
        assert await closed_without_answer(daemon.port, post)
        origin_only = (
            b"Content-Length: %d\r\nOrigin: http://attacker.example\r\n\r\n" % len(lsp_body) + lsp_body
        )
        assert await closed_without_answer(daemon.port, origin_only)
        assert daemon.process.returncode is None

        client = LanguageClient()
        await client.start_tcp("127.0.0.1", daemon.port)
        try:
            await client.initialize_session(initialize_params(tmp_path / "ws"))
            await wait_ready(client)
            uri = open_document(client, tmp_path / "ws" / "load.py", SAMPLE, "python")
            assert GUARD in hover_text(await hover(client, uri, 3))
            await client.shutdown_session()  # shutdown, then exit: ends this connection only
        finally:
            await client.stop()

        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.port)
        raw = RawClient(reader, writer.write)
        await raw.initialize(tmp_path / "ws")
        assert await raw.call(pause("after")) == {
            "jsonrpc": "2.0",
            "id": "after",
            "result": {"capture": "paused"},
        }
        writer.close()
        assert daemon.process.returncode is None
        await asyncio.sleep(0.3)
    refused = [line for line in daemon.stderr if "HTTP request" in line]
    assert len(refused) == 2, daemon.stderr
    assert not [line for line in daemon.stderr if "Traceback" in line], "\n".join(daemon.stderr)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "example.com", "[::]"])
def test_tcp_refuses_a_non_loopback_address(tmp_path: Path, host: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "carryover.lsp", "--tcp", f"{host}:0", "--db", str(tmp_path / "pool")],
        capture_output=True, text=True, env=server_env(tmp_path), timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "not a loopback address" in done.stderr and "--allow-remote" in done.stderr

"""Where the server's log records go: to the client (window/logMessage) at the level of the
``logLevel`` setting, and to stderr only when the client did not receive them — editors show stderr
in the same channel, so a record must not appear there twice. The server runs as editors start it
(``python -m server`` over stdio pipes), spoken to in raw JSON-RPC framing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from tests.test_server_support import server_env

READY = "memory pool ready"


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _read_messages(stream: IO[bytes], into: list[dict[str, Any]]) -> None:
    while True:
        length = 0
        while True:
            line = stream.readline()
            if not line:
                return
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        into.append(json.loads(stream.read(length)))


# ``python -m server`` and ``carryover serve`` (the command line, which configures logging first)
LAUNCHES = {
    "python -m server": ["-m", "server", "--db", "{pool}", "--log-level", "info"],
    "carryover serve": ["-m", "carryover.cli", "--db", "{pool}", "serve", "--log-level", "info"],
}


def _serve(tmp_path: Path, launch: str, settings: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Start a server, wait for the pool, shut it down properly; its messages and its stderr."""
    arguments = [part.replace("{pool}", str(tmp_path / "pool")) for part in LAUNCHES[launch]]
    process = subprocess.Popen(
        [sys.executable, *arguments],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(tmp_path / "home"),
    )
    assert process.stdin is not None and process.stdout is not None
    messages: list[dict[str, Any]] = []
    reader = threading.Thread(target=_read_messages, args=(process.stdout, messages), daemon=True)
    reader.start()

    def send(message: dict[str, Any]) -> None:
        assert process.stdin is not None
        process.stdin.write(_frame(message))
        process.stdin.flush()

    def wait_for(found: Any, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(found(message) for message in list(messages)):
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, messages
            time.sleep(0.05)

    try:
        params = {"processId": None, "rootUri": None, "capabilities": {}, "initializationOptions": settings}
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
        wait_for(lambda m: m.get("id") == 1)
        send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        wait_for(lambda m: m.get("method") == "carryover/status" and m["params"]["state"] == "ready")
        send({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        wait_for(lambda m: m.get("id") == 2)
        send({"jsonrpc": "2.0", "method": "exit"})
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    reader.join(5)
    return messages, stderr.decode("utf-8", "replace")


def _logged(messages: list[dict[str, Any]]) -> list[str]:
    return [m["params"]["message"] for m in messages if m.get("method") == "window/logMessage"]


@pytest.mark.parametrize("launch", sorted(LAUNCHES))
@pytest.mark.parametrize(("client_level", "to_client"), [("info", True), ("error", False)])
def test_a_record_goes_to_the_client_or_to_stderr_not_both(
    tmp_path: Path, launch: str, client_level: str, to_client: bool
) -> None:
    messages, stderr = _serve(tmp_path, launch, {"carryover": {"logLevel": client_level}})
    sent = [line for line in _logged(messages) if READY in line]
    printed = [line for line in stderr.splitlines() if READY in line]
    if to_client:
        assert len(sent) == 1 and not printed, (sent, stderr)
    else:
        assert not sent and len(printed) == 1, (sent, stderr)
    assert "Traceback" not in stderr, stderr

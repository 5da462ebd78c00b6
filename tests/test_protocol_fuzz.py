"""A bounded LSP fuzzer through the real entry point: ``python -m carryover.lsp`` on pipes gets every
framing and JSON-RPC fault in tests/test_transport_support.py, each followed by a valid request,
which must be answered; the fault itself gets the JSON-RPC error code it deserves (-32700, -32600,
-32601, -32602), and the log (stderr, and window/logMessage: what the client was sent is not printed
again) has at most one line per bad message, with no traceback.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.test_transport_support import FAULTS, frame, pause, probe, request, stdio_server


def log_lines(messages: list[dict[str, Any]]) -> list[str]:
    """The warnings and errors the server sent as window/logMessage (1: error, 2: warning)."""
    return [
        m["params"]["message"]
        for m in messages
        if m.get("method") == "window/logMessage" and m["params"]["type"] <= 2
    ]


def test_every_fault_is_survived_and_answered_as_json_rpc_says(tmp_path: Path) -> None:
    async def run() -> None:
        async with stdio_server(tmp_path) as server:
            await asyncio.sleep(0.5)  # let the pool open and say what it says on stderr
            before, since = len(server.stderr), len(server.client.messages)
            outcomes = [await probe(server, fault, n) for n, fault in enumerate(FAULTS)]
            assert await server.client.call(pause("last")) is not None
            lines = server.stderr[before:] + log_lines(server.client.messages[since:])

            # Then a message cut short by the end of the input: one line, and a clean exit.
            before, since = len(server.stderr), len(server.client.messages)
            assert server.process.stdin is not None
            await server.client.send(frame(pause("cut"))[:-12])
            server.process.stdin.close()
            code = await asyncio.wait_for(server.process.wait(), 20)
        deaf = [o.fault for o in outcomes if not o.probe_answered]
        assert not deaf, f"no answer to the valid request after: {deaf}"
        wrong = {
            o.fault: (o.answers, fault.answers)
            for o, fault in zip(outcomes, FAULTS, strict=True)
            if sorted(o.answers, key=repr) != sorted(fault.answers, key=repr)
        }
        assert not wrong, f"answered differently (got, expected): {wrong}"
        assert not [line for line in lines if "Traceback" in line], "\n".join(lines)
        assert len(lines) <= len(FAULTS) + 2, "\n".join(lines)

        assert code == 0
        end = server.stderr[before:] + log_lines(server.client.messages[since:])
        assert [line for line in end if "ended inside a message" in line], end
        assert not [line for line in end if "Traceback" in line], end

    asyncio.run(run())


def test_exit_ends_the_process_with_lsp_exit_codes(tmp_path: Path) -> None:
    """0 after shutdown, 1 without; without shutdown the capture threads are stopped first (they
    kept the process alive after exit)."""

    async def run(shutdown: bool) -> int | None:
        async with stdio_server(tmp_path / str(shutdown)) as server:
            if shutdown:
                assert await server.client.call(request("bye", "shutdown")) is not None
                refused = await server.client.call(pause("late"))
                assert refused is not None and refused["error"]["code"] == -32600
            await server.client.send(frame({"jsonrpc": "2.0", "method": "exit"}))
            return await asyncio.wait_for(server.process.wait(), 60)

    assert asyncio.run(run(True)) == 0
    assert asyncio.run(run(False)) == 1

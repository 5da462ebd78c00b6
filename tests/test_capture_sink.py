"""The pool's EventSink: non-blocking, redacting, batched, and durable up to the last flush."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import attrs

from carryover.pipeline.capture.sink import PoolEventSink, redact_value, row_payload
from carryover.pipeline.events import (
    CapturedEvent,
    Diagnostic,
    DiagnosticsChanged,
    ShellCommand,
    TerminalEnded,
)
from carryover.pool.schema import EventRow
from carryover.pool.store import MemoryStore
from tests.support.events import diagnostic, diagnostics, ended, shell, started
from tests.support.pools import ROOT, pool_config
from tests.test_capture_segment import HashEmbedder, fast_store

__all__ = ["fast_store"]

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from carryover.pool.store import MemoryStore
    from carryover.pipeline.capture.sink import PoolEventSink
    from tests.support.events import shell
    from tests.support.pools import pool_config
    from tests.test_capture_segment import HashEmbedder

    base, mode = Path(sys.argv[1]), sys.argv[2]
    store = MemoryStore(pool_config(base), HashEmbedder())
    sink = PoolEventSink(store, flush_interval_s=0.2, batch_size=1000)

    def event(n):
        return shell("/w", f"make {n}", 0)

    for n in range(40):
        sink.record(event(n))
    if mode == "kill":
        sink.flush()
        print("FLUSHED", flush=True)
        for n in range(40, 80):
            sink.record(event(n))
        time.sleep(60)
    # mode "exit": leave without close(); the interpreter's exit flushes
    """
)


def _writer(tmp_path: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_a_killed_writer_loses_nothing_that_was_flushed(tmp_path: Path) -> None:
    process = _writer(tmp_path, "kill")
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "FLUSHED"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    store = MemoryStore(pool_config(tmp_path), HashEmbedder())  # the pool still opens
    commands = {json.loads(row.payload)["command"] for row in store.read_events()}
    assert {f"make {n}" for n in range(40)} <= commands
    assert commands <= {f"make {n}" for n in range(80)}


def test_a_clean_exit_flushes_without_an_explicit_close(tmp_path: Path) -> None:
    process = _writer(tmp_path, "exit")
    assert process.wait(60) == 0
    store = MemoryStore(pool_config(tmp_path), HashEmbedder())
    assert store.count_events() == 40


class SlowStore:
    def __init__(self, fail_first: int = 0) -> None:
        self.batches: list[list[EventRow]] = []
        self.attempts: list[bool] = []
        self.fail_first = fail_first

    def append_events(self, rows: Sequence[EventRow], *, new_ids: bool = False) -> int:
        time.sleep(0.05)
        self.attempts.append(new_ids)
        if self.fail_first:
            self.fail_first -= 1
            raise OSError("disk busy")
        self.batches.append(list(rows))
        return len(rows)


def test_record_returns_at_once_and_batches_in_the_background() -> None:
    store = SlowStore()
    sink = PoolEventSink(store, flush_interval_s=0.1, batch_size=100)
    begun = time.perf_counter()
    for n in range(500):
        sink.record(started("/w", f"x{n}"))
    assert time.perf_counter() - begun < 0.25  # the writes take >= 0.25 s; record never waits for them
    sink.flush(10)
    assert sum(len(batch) for batch in store.batches) == 500
    assert all(len(batch) <= 100 for batch in store.batches) and len(store.batches) >= 5
    sink.close()
    assert sink.stats.persisted == 500 and sink.stats.dropped == 0


def test_a_failed_write_is_retried_with_the_same_batch() -> None:
    store = SlowStore(fail_first=2)
    sink = PoolEventSink(store, flush_interval_s=0.05, retry_backoff_s=(0.01, 0.05))
    sink.record(started("/w", "x"))
    sink.close()
    assert [len(batch) for batch in store.batches] == [1] and sink.stats.failed_writes == 2
    # the first attempt appends the id the sink made; a retry looks for it (the failed one may have
    # stored it)
    assert store.attempts == [True, False, False]


def test_events_with_ids_of_their_own_are_stored_once(fast_store: MemoryStore) -> None:
    """An event whose source gave it an id (the shell log's, made from the line) may come again; the
    sink's own ids are new. Both through the real pool: nothing twice, nothing lost."""
    given = [
        CapturedEvent("/w", "shell-hook", ShellCommand(f"make {n}", "/w", 0, "bash"), id=f"evt_given{n}")
        for n in range(3)
    ]
    sink = PoolEventSink(fast_store, flush_interval_s=0.05)
    for event in given:
        sink.record(event)
    sink.flush(10)
    for again in given:
        sink.record(again)
    sink.record(shell("/w", "make again", 0))
    sink.record(started("/w", "x"))
    sink.close()
    stored = fast_store.read_events()
    assert len(stored) == 5 and len({row.id for row in stored}) == 5
    assert {row.id for row in stored} >= {"evt_given0", "evt_given1", "evt_given2"}


def test_payload_strings_are_redacted_before_the_pool(fast_store: MemoryStore) -> None:
    """Every string field of a typed payload is redacted, also inside its records (a diagnostic's
    message); what is not a secret, and the payload's types, are kept."""
    secret = "ghp_Zx9Q2mK7vT4bN8cR1wY6uE3sA5dF0gH2jL4p"
    sink = PoolEventSink(fast_store)
    when = datetime(2026, 3, 1, 12, 0, 0)
    command = ended("/w", f"git clone https://x-access-token:{secret}@github.com/acme/api.git", 128, when)
    command = attrs.evolve(
        command,
        payload=attrs.evolve(
            command.payload, output_tail=f"export GITHUB_TOKEN={secret}\nfatal: Authentication failed"
        ),
    )
    leaked = diagnostics("/w", "a.py", (diagnostic(f"token TOKEN={secret} is not valid", "E1"),), when)
    sink.record(command)
    sink.record(leaked)
    sink.close()
    rows = {row.type: row for row in fast_store.read_events()}
    for row in rows.values():
        assert secret not in row.payload and "[REDACTED:" in row.payload
        assert row.time == when and row.episode_id == "" and row.id.startswith("evt_")
    payload = row_payload(rows["terminal.ended"])
    assert isinstance(payload, TerminalEnded)
    assert payload.exit_code == 128 and "Authentication failed" in payload.output_tail
    read = row_payload(rows["diagnostics.changed"])
    assert isinstance(read, DiagnosticsChanged) and read.diagnostics[0].code == "E1"
    assert "is not valid" in read.diagnostics[0].message


def test_redact_value_keeps_the_payload_typed() -> None:
    secret = "ghp_Zx9Q2mK7vT4bN8cR1wY6uE3sA5dF0gH2jL4p"
    event = diagnostics("/w", f"{secret}.py", (diagnostic(f"TOKEN={secret}"),))
    clean = redact_value(event.payload)
    assert type(clean) is DiagnosticsChanged and type(clean.diagnostics[0]) is Diagnostic
    assert secret not in repr(clean) and clean.errors == 1 and clean.diagnostics[0].range.start.line == 0


def test_a_producer_value_of_the_wrong_type_is_dropped_and_counted(fast_store: MemoryStore) -> None:
    """Validated at the writing end too: a payload whose field has the wrong type (a bug in a
    producer) is not stored as something unreadable."""
    bad = shell("/w", "make", 0)
    bad = attrs.evolve(bad, payload=attrs.evolve(bad.payload, exit_code="0"))  # type: ignore[arg-type]
    sink = PoolEventSink(fast_store)
    sink.record(bad)
    sink.record(shell("/w", "make", 0))
    sink.close()
    assert sink.stats.dropped == 1 and sink.stats.persisted == 1 and fast_store.count_events() == 1


def test_resending_an_event_with_a_stable_id_stores_it_once(fast_store: MemoryStore) -> None:
    event = attrs.evolve(shell("/w", "make"), id="evt_stable")
    sink = PoolEventSink(fast_store)
    sink.record(event)
    sink.flush()
    sink.record(event)
    sink.close()
    assert fast_store.count_events() == 1


def test_a_lone_surrogate_is_stored_not_retried_forever(fast_store: MemoryStore) -> None:
    """JSON allows ``"\\ud800"``; UTF-8 (and so the pool) does not: it is stored as U+FFFD."""
    from carryover.pipeline.capture.terminal import terminal_event

    sink = PoolEventSink(fast_store, flush_interval_s=0.05)
    sink.start()
    sink.record(terminal_event("echo \ud800", "/w", 0, output_head="half \udc00 a pair", workspace="/w"))
    sink.close()
    (row,) = fast_store.read_events()
    assert "\ufffd" in row.payload and "\ud800" not in row.payload

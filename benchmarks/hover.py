"""Hover latency through a real LSP client, by pool size, idle and while events are ingested.

    .venv/bin/python -m benchmarks.hover [--sizes 1000,10000] [--with-100k] [--hovers 200] \\
        [--rate 1000] [--out benchmarks/results/hover.md] [--json PATH]

For each pool size a pool is built from benchmarks/pool.py's generator (the same seeded drafts and
the same cached MiniLM vectors as the pool benchmark, so building does not re-embed), then
``python -m server --db <pool>`` is started as a subprocess and driven by pytest-lsp's
LanguageClient. A document of distinct editor-like lines (pool_text's query generator) is opened and
hovered line by line, each line with a forwarded diagnostic of its own (the hover speaks only on
evidence; every line's query is new, and features/ahead.py embeds the last 64 diagnostics' moments
ahead of the hover, the same share in both phases): first idle, then while a task sends
``carryover/terminalEnded`` notifications at ``--rate`` events per second. Reported:
initialize and pool-ready times, hover p50/p95/p99 (client-measured round trip), the event rate
achieved, and how many events reached the events table (read back after a flush wait).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.pool import (
    CACHE_DIR,
    DRAFT_SEED,
    PrecomputedEmbedder,
    VectorCache,
    embed_with_cache,
    percentiles,
    pool_config,
)
from benchmarks.pool_text import generate_drafts, generate_queries

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

HOVER_SEED = 4242
WARMUP = 10
SETTLE_S = 3.0
BUILD_BATCH = 2000


def build(root: Path, size: int, embedder: Any) -> float:
    """A pool of ``size`` generated memories in ``root``/pool; returns the seconds it took."""
    from carryover.pool.store import MemoryStore, embedding_key, redact_draft

    started = time.perf_counter()
    drafts = generate_drafts(size, DRAFT_SEED)
    config = pool_config(root)
    keys = [embedding_key(redact_draft(draft), config.embed_key) for draft in drafts]
    cache = VectorCache(CACHE_DIR, embedder.name, embedder.dimension)
    known, _ = embed_with_cache(embedder, cache, keys)
    store = MemoryStore(config, PrecomputedEmbedder(embedder, known))
    for start in range(0, size, BUILD_BATCH):
        store.add_many(drafts[start : start + BUILD_BATCH])
    store.maintain()
    return time.perf_counter() - started


def terminal_ended(index: int, cwd: str) -> dict[str, Any]:
    return {
        "command": f"pytest -q tests/test_module_{index % 97}.py",
        "cwd": cwd,
        "terminalId": str(index % 4),
        "executionId": f"bench-{index}",
        "exitCode": 0,
        "outputHead": f"============ test session starts ============\ncollected {index % 50} items\n",
        "outputTail": f"{'.' * 40}\n{index % 50} passed in 0.{index % 9}1s\n",
    }


def diagnostics_params(uri: str, messages: Sequence[str], first_line: int = 0) -> dict[str, Any]:
    """``carryover/diagnostics`` for ``uri``: one error diagnostic per line from ``first_line`` on, the
    ``messages`` in order."""
    return {
        "uri": uri,
        "source": "bench",
        "diagnostics": [
            {
                "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 8}},
                "message": message,
                "severity": 1,
            }
            for line, message in enumerate(messages, start=first_line)
        ],
    }


async def send_events(client: Any, rate: int, cwd: str, stop: asyncio.Event, sent: list[int]) -> None:
    """Send ``rate`` notifications a second, in ticks of 10 ms, until ``stop``."""
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    started = time.perf_counter()
    count = 0
    while not stop.is_set():
        for _ in range(per_tick):
            client.protocol.notify("carryover/terminalEnded", terminal_ended(count, cwd))
            count += 1
        sent[0] = count
        delay = started + count / rate - time.perf_counter()
        await asyncio.sleep(max(0.0, delay))


async def hover_latencies(client: Any, uri: str, lines: range) -> list[float]:
    from lsprotocol import types as lsp

    samples = []
    for line in lines:
        params = lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=2)
        )
        started = time.perf_counter()
        await client.text_document_hover_async(params)
        samples.append(time.perf_counter() - started)
    return samples


def note(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def count_events(pool: Path) -> int:
    import lancedb

    return int(lancedb.connect(str(pool)).open_table("events").count_rows())


async def measure(pool: Path, workspace: Path, hovers: int, rate: int, inline: bool = True) -> dict[str, Any]:
    import pytest_lsp
    from lsprotocol import types as lsp
    from pytest_lsp import ClientServerConfig

    env = dict(os.environ, CARRYOVER_HOME=str(pool.parent / "home"))
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "carryover.lsp", "--db", str(pool), "--log-level", "warning"],
        server_env=env,
    )
    client = await config.start()
    assert isinstance(client, pytest_lsp.LanguageClient)

    def status(_params: Any) -> None:
        pass

    client.feature("carryover/status")(status)  # its decorator has no return annotation

    started = time.perf_counter()
    await client.initialize_session(
        lsp.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=workspace.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options={
                "carryover": {"surfaces": {"codeLens": False, "diagnostics": False, "inlayHints": inline}}
            },
        )
    )
    initialize_s = time.perf_counter() - started
    await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="carryover.search", arguments=[{"query": "ready", "k": 1}])
    )
    ready_s = time.perf_counter() - started
    lines = 2 * (hovers + WARMUP)
    texts = [query.splitlines()[0] for query in generate_queries(2 * lines, HOVER_SEED)]
    code, messages = texts[0::2], texts[1::2]
    uri = (workspace / "bench.py").as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text="\n".join(code))
        )
    )
    # A diagnostic on every line: the hover speaks only where the moment carries a problem, so a line
    # without one would measure the quiet path, not the retrieval. Each phase gets its own lines'
    # diagnostics, then SETTLE_S: features/ahead.py embeds the last of them ahead of the hover in both
    # phases alike (before, one forward for both phases left only the second phase's lines warmed).
    per_phase = hovers + WARMUP
    client.protocol.notify("carryover/diagnostics", diagnostics_params(uri, messages[:per_phase]))
    await asyncio.sleep(SETTLE_S)
    note(f"pool ready after {ready_s:.1f} s; hovering")
    await hover_latencies(client, uri, range(WARMUP))
    idle = await hover_latencies(client, uri, range(WARMUP, WARMUP + hovers))

    note(f"idle p50 {percentiles(idle)[0]:.1f} ms; now with events")
    before = count_events(pool)
    stop = asyncio.Event()
    sent = [0]
    sender = asyncio.create_task(send_events(client, rate, str(workspace), stop, sent))
    client.protocol.notify(
        "carryover/diagnostics", diagnostics_params(uri, messages[per_phase:], first_line=per_phase)
    )
    await asyncio.sleep(SETTLE_S)  # the ingest is in full swing before the first timed hover
    load_started = time.perf_counter()
    first = WARMUP + hovers
    loaded = await hover_latencies(client, uri, range(first + WARMUP, first + WARMUP + hovers))
    elapsed = time.perf_counter() - load_started + SETTLE_S
    stop.set()
    await sender
    note(f"loaded p50 {percentiles(loaded)[0]:.1f} ms; {sent[0]} events sent; waiting for them to be stored")
    achieved = sent[0] / elapsed
    drain_started = time.perf_counter()
    persisted = count_events(pool) - before
    while persisted < sent[0] and time.perf_counter() - drain_started < 60:
        await asyncio.sleep(0.5)
        persisted = count_events(pool) - before
    drain_s = time.perf_counter() - drain_started
    await client.shutdown_session()
    await client.stop()
    return {
        "initialize_ms": initialize_s * 1000,
        "ready_s": ready_s,
        "idle_ms": percentiles(idle),
        "loaded_ms": percentiles(loaded),
        "events_sent": sent[0],
        "events_per_s": achieved,
        "events_persisted": persisted,
        "drain_s": drain_s,
    }


def report(run: dict[str, Any]) -> str:
    lines = [
        "# Hover latency",
        "",
        f"`{run['command']}` — {run['date']}, {run['hovers']} hovers per phase, inlay hints "
        f"{'on' if run.get('inline', True) else 'off'}, load average "
        f"{run['load_start']} → {run['load_end']} ({os.cpu_count()} CPUs).",
        "",
        "Client-measured round trip of textDocument/hover (pytest-lsp LanguageClient → `python -m server`"
        " subprocess over stdio); every hover embeds a new query.",
        "",
        "| memories | build s | initialize ms | pool ready s | idle p50 / p95 / p99 ms | "
        f"ingesting ~{run['rate']} ev/s: p50 / p95 / p99 ms | events/s sent | events stored (drain s) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in run["rows"]:
        idle = " / ".join(f"{v:.1f}" for v in row["idle_ms"])
        loaded = " / ".join(f"{v:.1f}" for v in row["loaded_ms"])
        lines.append(
            f"| {row['size']:,} | {row['build_s']:.0f} | {row['initialize_ms']:.0f} | {row['ready_s']:.1f} | "
            f"{idle} | {loaded} | {row['events_per_s']:.0f} | "
            f"{row['events_persisted']:,} of {row['events_sent']:,} ({row['drain_s']:.1f}) |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000", help="pool sizes, comma-separated")
    parser.add_argument("--with-100k", action="store_true", help="also measure a pool of 100,000 memories")
    parser.add_argument("--hovers", type=int, default=200, help="timed hovers per phase")
    parser.add_argument("--rate", type=int, default=1000, help="events per second during the second phase")
    parser.add_argument(
        "--no-inline",
        action="store_true",
        help="inlay hints off: no background analysis of the document's lines beside the hovers",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "hover.md")
    parser.add_argument("--json", type=Path, help="also write the raw figures as JSON")
    parser.add_argument(
        "--work-dir", type=Path, help="where pools are built (default: a temporary directory)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from carryover.pool.embedding.minilm import MiniLMEmbedder

    sizes = sorted(
        {int(size) for size in args.sizes.split(",") if size.strip()}
        | ({100_000} if args.with_100k else set())
    )
    load_start = " ".join(f"{value:.1f}" for value in os.getloadavg())
    embedder = MiniLMEmbedder().load()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="carryover-hover-bench-"))
    rows = []
    try:
        for size in sizes:
            root = work / f"pool-{size}"
            shutil.rmtree(root, ignore_errors=True)
            note(f"building a pool of {size}")
            build_s = build(root, size, embedder)
            note(f"built in {build_s:.1f} s")
            workspace = root / "ws"
            workspace.mkdir()
            inline = not args.no_inline
            figures = asyncio.run(measure(root / "pool", workspace, args.hovers, args.rate, inline))
            rows.append({"size": size, "build_s": build_s, **figures})
            sys.stderr.write(f"{size}: {json.dumps(rows[-1])}\n")
            shutil.rmtree(root, ignore_errors=True)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    run = {
        "command": " ".join(
            [".venv/bin/python", "-m", "benchmarks.hover", *(argv if argv is not None else sys.argv[1:])]
        ),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "hovers": args.hovers,
        "inline": not args.no_inline,
        "rate": args.rate,
        "load_start": load_start,
        "load_end": " ".join(f"{value:.1f}" for value in os.getloadavg()),
        "rows": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(run, indent=1), encoding="utf-8")
    text = report(run)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Embed-ahead: hover latency on moments that were warmed ahead of the hover vs not, beside the floor.

    .venv/bin/python -m benchmarks.ahead [--sizes 1000,10000] [--hovers 25] [--rounds 4] \\
        [--out benchmarks/results/<date>-ahead.md] [--json PATH]

For each pool size a pool is built as benchmarks/hover.py builds it (seeded drafts, cached MiniLM
vectors), ``python -m carryover.lsp --db <pool>`` is started and driven by pytest-lsp's LanguageClient.
Each round opens two new documents of distinct editor-like lines (pool_text's generator) and forwards
a diagnostic for every line (``carryover/diagnostics``, each message distinct), so every hover is a
moment with evidence whose query texts are new to the server's cache:

* **not warmed**: ``embedAhead`` off, the diagnostics forwarded, then each line hovered (the hover
  embeds its query texts itself);
* **warmed**: ``embedAhead`` on, the diagnostics forwarded, the server's debug log read until it has
  embedded every one of them ahead, then each line hovered.

Rounds alternate the two, so load changes hit both alike. The floor is measured in this process in
the same run, between rounds, on the same moments: the embedding of the moment's query texts
(``recall.moment.query_texts``, through the raw MiniLM embedder: no cache) and the pool's candidate
search (``MemoryStore.candidates``, 40 candidates, what the hover's ranking reads). A warmed hover's
floor is the search alone. Latencies are client-measured round trips of textDocument/hover.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.hover import build, diagnostics_params, note
from benchmarks.pool import percentiles, pool_config
from benchmarks.pool_text import generate_queries

BENCH = Path(__file__).resolve().parent
SEED = 5151
WARM_WAIT_S = 60.0
_EMBEDDED = re.compile(r"embedded ahead: (\d+) moments")


def document_lines(round_index: int, phase: str, count: int) -> tuple[list[str], list[str]]:
    """``count`` distinct code lines and ``count`` distinct diagnostics for one document."""
    offset = (round_index * 2 + (phase == "warm")) * count * 2
    texts = [text.splitlines()[0] for text in generate_queries(offset + 2 * count, SEED)[offset:]]
    return texts[0::2], texts[1::2]


async def hover_latencies(client: Any, uri: str, count: int) -> tuple[list[float], int]:
    from lsprotocol import types as lsp

    samples = []
    answered = 0
    for line in range(count):
        params = lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=2)
        )
        started = time.perf_counter()
        result = await client.text_document_hover_async(params)
        samples.append(time.perf_counter() - started)
        answered += result is not None
    return samples, answered


def floor_samples(store: Any, moments: Sequence[Any]) -> tuple[list[float], list[float]]:
    """The embedding (uncached) and the candidate search of each moment, timed apart."""
    import numpy as np

    from carryover.recall.moment import query_texts

    raw = store.embedder.inner
    embeds, searches = [], []
    for moment in moments:
        texts = query_texts(moment)
        started = time.perf_counter()
        vectors = np.asarray(raw.embed(texts), dtype=np.float32)
        embeds.append(time.perf_counter() - started)
        started = time.perf_counter()
        store.candidates(vectors, workspace=moment.workspace, limit=40)
        searches.append(time.perf_counter() - started)
    return embeds, searches


async def measure(pool: Path, workspace: Path, hovers: int, rounds: int, store: Any) -> dict[str, Any]:
    import pytest_lsp
    from lsprotocol import types as lsp
    from pytest_lsp import ClientServerConfig

    from carryover.recall.moment import Diagnostic, Moment

    env = dict(os.environ, CARRYOVER_HOME=str(pool.parent / "home"))
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "carryover.lsp", "--db", str(pool), "--log-level", "warning"],
        server_env=env,
    )
    client = await config.start()
    assert isinstance(client, pytest_lsp.LanguageClient)
    client.feature("carryover/status")(lambda _params: None)

    def warmed() -> int:
        """Moments the server has embedded ahead so far (its debug log, which pytest-lsp keeps)."""
        return sum(
            int(match.group(1))
            for message in client.log_messages
            if (match := _EMBEDDED.search(message.message)) is not None
        )

    await client.initialize_session(
        lsp.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=workspace.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options={
                "carryover": {
                    "surfaces": {"codeLens": False, "diagnostics": False, "inlayHints": False},
                    "logLevel": "debug",
                }
            },
        )
    )
    await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="carryover.search", arguments=[{"query": "ready", "k": 1}])
    )

    def configure(embed_ahead: bool) -> None:
        client.workspace_did_change_configuration(
            lsp.DidChangeConfigurationParams(settings={"carryover": {"embedAhead": embed_ahead}})
        )

    samples: dict[str, list[float]] = {"cold": [], "warm": [], "embed": [], "search": []}
    answered = {"cold": 0, "warm": 0}
    warm_wait: list[float] = []
    for round_index in range(rounds + 1):  # round 0 warms everything up and is not counted
        for phase in ("cold", "warm") if round_index % 2 else ("warm", "cold"):
            code, messages = document_lines(round_index, phase, hovers)
            uri = (workspace / f"{phase}_{round_index}.py").as_uri()
            configure(phase == "warm")
            await asyncio.sleep(0.2)
            client.text_document_did_open(
                lsp.DidOpenTextDocumentParams(
                    text_document=lsp.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text="\n".join(code)
                    )
                )
            )
            before = warmed()
            started = time.perf_counter()
            client.protocol.notify("carryover/diagnostics", diagnostics_params(uri, messages))
            if phase == "warm":
                while warmed() - before < hovers and time.perf_counter() - started < WARM_WAIT_S:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)  # polls the log the client keeps
                warm_wait.append(time.perf_counter() - started)
                if warmed() - before < hovers:
                    raise RuntimeError(f"only {warmed() - before} of {hovers} moments were warmed")
            else:
                await asyncio.sleep(0.3)
            latencies, shown = await hover_latencies(client, uri, hovers)
            if round_index:
                samples[phase] += latencies
                answered[phase] += shown
            moments = [
                Moment(
                    language="python",
                    lines=tuple(code),
                    line=line,
                    diagnostics=(Diagnostic(messages[line], "bench"),),
                    workspace=str(workspace),
                )
                for line in range(hovers)
            ]
            embeds, searches = await asyncio.to_thread(floor_samples, store, moments)
            if round_index:
                samples["embed"] += embeds
                samples["search"] += searches
    await client.shutdown_session()
    await client.stop()
    both = [e + s for e, s in zip(samples["embed"], samples["search"], strict=True)]
    return {
        "not_warmed_ms": percentiles(samples["cold"]),
        "warmed_ms": percentiles(samples["warm"]),
        "floor_embed_ms": percentiles(samples["embed"]),
        "floor_search_ms": percentiles(samples["search"]),
        "floor_ms": percentiles(both),
        "hovers_per_phase": len(samples["cold"]),
        "answered": answered,
        "warm_wait_s": warm_wait,
    }


def ratio(values: Sequence[float], floor: Sequence[float]) -> str:
    return " / ".join(f"{value / base:.1f}" for value, base in zip(values[:2], floor[:2], strict=True))


def fmt(values: Sequence[float]) -> str:
    return " / ".join(f"{value:.1f}" for value in values)


def report(run: dict[str, Any]) -> str:
    lines = [
        "# Embed-ahead: hover latency on warmed and not-warmed moments",
        "",
        f"`{run['command']}` — {run['date']}, {run['rounds']} rounds of {run['hovers']} hovers per phase, "
        f"load average {run['load_start']} → {run['load_end']} ({os.cpu_count()} CPUs).",
        "",
        " ".join(
            [
                "Client-measured round trip of textDocument/hover (pytest-lsp → `python -m carryover.lsp`),",
                "each on a line with a forwarded diagnostic whose query texts are new to the server.",
                "Floor (this process, same run, same moments): embedding of the moment's query texts",
                "(MiniLM, uncached) + candidate search (`MemoryStore.candidates`, 40).",
                "A warmed hover's floor is the search alone.",
            ]
        ),
        "",
        " | ".join(
            [
                "| memories",
                "not warmed p50 / p95 / p99 ms",
                "warmed p50 / p95 / p99 ms",
                "floor: embed",
                "floor: search",
                "floor: embed + search",
                "not warmed ÷ (embed + search) p50 / p95",
                "warmed ÷ search p50 / p95",
                "warmed ÷ (embed + search) p50 / p95",
                "answered (not warmed, warmed) |",
            ]
        ),
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in run["rows"]:
        lines.append(
            f"| {row['size']:,} | {fmt(row['not_warmed_ms'])} | {fmt(row['warmed_ms'])} | "
            f"{fmt(row['floor_embed_ms'])} | {fmt(row['floor_search_ms'])} | {fmt(row['floor_ms'])} | "
            f"{ratio(row['not_warmed_ms'], row['floor_ms'])} | "
            f"{ratio(row['warmed_ms'], row['floor_search_ms'])} | "
            f"{ratio(row['warmed_ms'], row['floor_ms'])} | "
            f"{row['answered']['cold']}, {row['answered']['warm']} of {row['hovers_per_phase']} |"
        )
    lines += [
        "",
        "Warming a block of moments (forward → all embedded ahead), seconds: "
        + "; ".join(
            f"{row['size']:,}: " + ", ".join(f"{value:.2f}" for value in row["warm_wait_s"])
            for row in run["rows"]
        ),
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000", help="pool sizes, comma-separated")
    parser.add_argument("--hovers", type=int, default=25, help="hovers per phase per round (at most 64)")
    parser.add_argument("--rounds", type=int, default=4, help="timed rounds (each: one warmed, one not)")
    parser.add_argument("--out", type=Path, help="the markdown report (default: results/<date>-ahead.md)")
    parser.add_argument("--json", type=Path, help="also write the raw figures as JSON")
    parser.add_argument(
        "--work-dir", type=Path, help="where pools are built (default: a temporary directory)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from carryover.pool.embedding.minilm import MiniLMEmbedder
    from carryover.pool.store import MemoryStore

    if not 1 <= args.hovers <= 64:
        raise SystemExit("--hovers must be between 1 and 64 (the pending bound of embed-ahead)")
    sizes = sorted({int(size) for size in args.sizes.split(",") if size.strip()})
    load_start = " ".join(f"{value:.1f}" for value in os.getloadavg())
    embedder = MiniLMEmbedder().load()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="carryover-ahead-bench-"))
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
            store = MemoryStore(pool_config(root), embedder)
            figures = asyncio.run(measure(root / "pool", workspace, args.hovers, args.rounds, store))
            rows.append({"size": size, "build_s": build_s, **figures})
            sys.stderr.write(f"{size}: {json.dumps(rows[-1])}\n")
            shutil.rmtree(root, ignore_errors=True)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    now = datetime.now(timezone.utc)
    run = {
        "command": " ".join(
            [".venv/bin/python", "-m", "benchmarks.ahead", *(argv if argv is not None else sys.argv[1:])]
        ),
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "hovers": args.hovers,
        "rounds": args.rounds,
        "load_start": load_start,
        "load_end": " ".join(f"{value:.1f}" for value in os.getloadavg()),
        "rows": rows,
    }
    out = args.out or BENCH / "results" / f"{now.strftime('%Y-%m-%d-%H%M')}-ahead.md"
    if args.json:
        args.json.write_text(json.dumps(run, indent=1), encoding="utf-8")
    text = report(run)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

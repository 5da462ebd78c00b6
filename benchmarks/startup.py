"""Startup, CLI latency and memory by component, beside their floors in the same run.

    .venv/bin/python -m benchmarks.startup [--sizes 1000,10000] [--runs 7] \\
        [--out benchmarks/results/startup.md] [--json PATH]

For each pool size a pool is built from benchmarks/pool.py's generator (cached MiniLM vectors, as
benchmarks/hover.py does). Then, interleaved run by run so that load hits every figure alike:

- floors: ``python -c pass`` (the interpreter), ``python -c "import pygls.lsp.server"`` (what a
  pygls server cannot start without), ``python -c "import lancedb"``;
- ``initialize``: the wall time from starting ``carryover serve`` (``python -m carryover --db P
  serve``, the way the VS Code extension starts it) to its answer on stdout, through a raw stdio
  client (VS Code 1.65's capabilities from pytest-lsp), and to ``carryover/status`` ready;
- the CLI: ``carryover search`` / ``show`` / ``list`` without a daemon (the lean path: the read
  replica, no lancedb), ``search`` without a daemon nor a replica (the pool opened, the replica made
  again, as after a write), and through a running daemon's local socket (``--db`` the same pool);
- the lean path's floor: a fresh process that loads the model and embeds the query.

Then memory: the daemon's RSS once ready and after its first searches (VmRSS from /proc), and RSS
by component in one fresh process that adds them in the daemon's order (lancedb + pyarrow, the
model, the open pool, the first search).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from carryover.pool.mirror import MIRROR_DIR
from carryover.pool.replica import REPLICA_FILE

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
QUERY = "TypeError: Cannot read properties of undefined (reading 'map')"
EMBED_ONE = (
    "import sys\n"
    "from carryover.pool.embedding.minilm import MiniLMEmbedder\n"
    "MiniLMEmbedder().load().embed([sys.argv[1]])\n"
)
"""The floor of any search in a fresh process: load the model and embed the query."""


# ----- a raw stdio LSP client (no pygls on the client side: it would not change the server's time)


class RawClient:
    """Frames JSON-RPC over a server subprocess's stdin/stdout; a thread reads what it sends."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._stdin: IO[bytes] = process.stdin
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()
        self._next_id = 0

    def _read(self, stream: IO[bytes]) -> None:
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length is None:
                continue
            self.messages.put(json.loads(stream.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self._stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self._stdin.flush()

    def request(self, method: str, params: Any) -> int:
        self._next_id += 1
        self.send({"id": self._next_id, "method": method, "params": params})
        return self._next_id

    def wait_for(self, match: Any, timeout_s: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the server did not send the message in time")
            message = self.messages.get(timeout=left)
            if message is None:
                raise EOFError("the server closed its stdout")
            if match(message):
                return message

    def close(self) -> None:
        try:
            request_id = self.request("shutdown", None)
            self.wait_for(lambda m: m.get("id") == request_id, 30)
            self.send({"method": "exit"})
            self.process.wait(10)
        except (OSError, TimeoutError, EOFError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(10)


def initialize_params(root: Path) -> dict[str, Any]:
    import pytest_lsp

    capabilities_file = Path(pytest_lsp.__file__).parent / "clients" / "visual_studio_code_v1.65.2.json"
    capabilities = json.loads(capabilities_file.read_text(encoding="utf-8"))["capabilities"]
    return {
        "processId": os.getpid(),
        "rootUri": root.as_uri(),
        "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
        "capabilities": capabilities,
        "initializationOptions": {"capture": False},
    }


def environment(pool: Path) -> dict[str, str]:
    return dict(os.environ, CARRYOVER_HOME=str(pool.parent / "home"))


def start_daemon(pool: Path, workspace: Path) -> tuple[RawClient, float, float]:
    """``carryover serve`` on ``pool``: the client, seconds to the initialize answer, to ready."""
    command = [sys.executable, "-m", "carryover", "--db", str(pool), "serve"]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=environment(pool),
        cwd=workspace,
    )
    client = RawClient(process)
    request_id = client.request("initialize", initialize_params(workspace))
    client.wait_for(lambda m: m.get("id") == request_id)
    initialized = time.perf_counter() - started
    client.send({"method": "initialized", "params": {}})
    status = client.wait_for(
        lambda m: m.get("method") == "carryover/status" and m["params"]["state"] in ("ready", "error")
    )
    if status["params"]["state"] != "ready":
        raise RuntimeError(f"the pool did not open: {status['params']}")
    return client, initialized, time.perf_counter() - started


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wall(command: Sequence[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=300)
    return time.perf_counter() - started


def cli(pool: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "carryover", "--db", str(pool), *args]


# ----- memory by component ---------------------------------------------------------------------

COMPONENTS = r"""
import json, sys, time
from pathlib import Path

def rss():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

steps = [("python", rss())]
import pyarrow, lancedb
steps.append(("lancedb + pyarrow", rss()))
from carryover.pool.config import load_config
from carryover.pool.embedding.factory import make_embedder
config = load_config(db=Path(sys.argv[1]))
embedder = make_embedder(config.embedder)
embedder.embed(["warm the model"])
steps.append(("the model", rss()))
from carryover.pool.store import MemoryStore
store = MemoryStore(config, embedder)
store.count()
steps.append(("the open pool", rss()))
from carryover.recall.moment import Moment, RecallOptions, suggest
suggest(store, Moment.of_text(sys.argv[2], language="typescript"), RecallOptions())
steps.append(("the first search", rss()))
for i in range(20):
    suggest(store, Moment.of_text(f"{sys.argv[2]} {i}", language="python"), RecallOptions())
steps.append(("20 more searches", rss()))
print(json.dumps(steps))
"""


def components(pool: Path) -> list[tuple[str, float]]:
    result = subprocess.run(
        [sys.executable, "-c", COMPONENTS, str(pool), QUERY],
        check=True,
        capture_output=True,
        text=True,
        env=environment(pool),
        timeout=600,
    )
    return [(name, float(value)) for name, value in json.loads(result.stdout)]


# ----- one pool ---------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else float("nan")


def measure(pool: Path, workspace: Path, runs: int) -> dict[str, Any]:
    env = environment(pool)
    some_id = json.loads(
        subprocess.run(
            cli(pool, "list", "--limit", "1", "--json"), check=True, capture_output=True, env=env
        ).stdout
    )[0]["id"]
    replica = pool / MIRROR_DIR / REPLICA_FILE
    if not replica.is_file():
        raise RuntimeError("the first read command did not make the replica")
    samples: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)

    daemon_rss: dict[str, float] = {}
    for run in range(runs):
        note(f"  run {run + 1}/{runs}")
        add("floor: python -c pass", wall([sys.executable, "-c", "pass"]))
        add("floor: import pygls.lsp.server", wall([sys.executable, "-c", "import pygls.lsp.server"]))
        add("floor: import lancedb", wall([sys.executable, "-c", "import lancedb"]))
        add("floor: import carryover.cli", wall([sys.executable, "-c", "import carryover.cli"]))
        add("floor: embed one line (cold process)", wall([sys.executable, "-c", EMBED_ONE, QUERY], env))
        add("cli search (no daemon)", wall(cli(pool, "search", QUERY, "--language", "typescript"), env))
        replica.unlink()
        add(
            "cli search (no daemon, no replica yet: opens the pool, makes the replica)",
            wall(cli(pool, "search", QUERY, "--language", "typescript"), env),
        )
        if not replica.is_file():
            raise RuntimeError("the read command did not make the replica")
        add("cli show (no daemon)", wall(cli(pool, "show", some_id), env))
        add("cli list (no daemon)", wall(cli(pool, "list", "--limit", "20"), env))
        client, initialized, ready = start_daemon(pool, workspace)
        add("initialize (carryover serve)", initialized)
        add("pool ready (carryover serve)", ready)
        try:
            if run == 0:
                daemon_rss["ready"] = rss_mb(client.process.pid)
            add("cli search (daemon)", wall(cli(pool, "search", QUERY, "--language", "typescript"), env))
            add("cli show (daemon)", wall(cli(pool, "show", some_id), env))
            add("cli list (daemon)", wall(cli(pool, "list", "--limit", "20"), env))
            if run == 0:
                for index in range(20):
                    wall(cli(pool, "search", f"{QUERY} {index}", "--language", "python"), env)
                daemon_rss["after 21 socket searches"] = rss_mb(client.process.pid)
        finally:
            client.close()
    return {
        "medians_ms": {name: median(values) * 1000 for name, values in samples.items()},
        "ranges_ms": {name: [min(values) * 1000, max(values) * 1000] for name, values in samples.items()},
        "daemon_rss_mb": daemon_rss,
        "components_mb": components(pool),
    }


def note(message: str) -> None:
    sys.stderr.write(f"[startup {datetime.now(timezone.utc):%H:%M:%S}] {message}\n")
    sys.stderr.flush()


def report(run: dict[str, Any]) -> str:
    lines = [
        "# Startup, CLI latency and memory",
        "",
        f"`{run['command']}` — {run['date']}, {run['runs']} runs per figure (median, min–max), "
        f"load average {run['load_start']} → {run['load_end']} ({os.cpu_count()} CPUs).",
        "",
        "Wall times from process start; the floors were measured in the same runs, interleaved.",
        "",
    ]
    for row in run["rows"]:
        lines += [
            f"## {row['size']:,} memories",
            "",
            "| what | median ms | min–max ms |",
            "| --- | ---: | ---: |",
        ]
        for name, value in row["medians_ms"].items():
            low, high = row["ranges_ms"][name]
            lines.append(f"| {name} | {value:.0f} | {low:.0f}–{high:.0f} |")
        lines += ["", "RSS by component (one fresh process, in the daemon's order):", ""]
        lines += ["| after | RSS MB | + MB |", "| --- | ---: | ---: |"]
        previous = 0.0
        for name, value in row["components_mb"]:
            lines.append(f"| {name} | {value:.0f} | {value - previous:+.0f} |")
            previous = value
        lines += [
            "",
            "Daemon (`carryover serve`) RSS: "
            + ", ".join(f"{name} {value:.0f} MB" for name, value in row["daemon_rss_mb"].items()),
            "",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.hover import build
    from carryover.pool.embedding.minilm import MiniLMEmbedder

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "startup.md")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    load_start = " ".join(f"{value:.1f}" for value in os.getloadavg())
    rows = []
    work = Path(tempfile.mkdtemp(prefix="carryover-startup-"))
    try:
        embedder = MiniLMEmbedder().load()
        for size in (int(value) for value in args.sizes.split(",")):
            root = work / str(size)
            root.mkdir()
            note(f"building a pool of {size}")
            build(root, size, embedder)
            workspace = root / "ws"
            workspace.mkdir()
            rows.append({"size": size, **measure(root / "pool", workspace, args.runs)})
            note(json.dumps(rows[-1]))
            shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run = {
        "command": " ".join([".venv/bin/python", "-m", "benchmarks.startup", *(argv or sys.argv[1:])]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": args.runs,
        "load_start": load_start,
        "load_end": " ".join(f"{value:.1f}" for value in os.getloadavg()),
        "rows": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(run, indent=1), encoding="utf-8")
    text = report(run)
    args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

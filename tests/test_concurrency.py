"""Several processes writing one pool at once lose nothing and duplicate nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from carryover.pool.embedding.base import Embedder
from carryover.pool.importer import import_file
from carryover.pool.store import MemoryStore
from tests.support.pools import ROOT, pool_config

POOL = ROOT / "eval" / "data" / "pool.jsonl"

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from carryover.pool.embedding.minilm import MiniLMEmbedder
    from carryover.pool.importer import import_file
    from carryover.pool.store import MemoryStore
    from tests.support.pools import pool_config

    base, lines_file, vote_id, votes = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    store = MemoryStore(pool_config(base), MiniLMEmbedder())
    report = import_file(store, lines_file, batch_size=7)
    for _ in range(votes):
        store.record_feedback(vote_id, helpful=True)
    print(report.added, report.merged, report.rejected)
    """
)


@pytest.mark.slow
def test_four_processes_importing_overlapping_memories(tmp_path: Path, minilm: Embedder) -> None:
    lines = [line for line in POOL.read_text().splitlines() if line.strip()][:120]
    assert len(lines) == 120
    # Single-process reference: how many of these lines are distinct memories.
    reference = import_file(
        MemoryStore(pool_config(tmp_path / "reference"), minilm), _write(tmp_path, "all", lines)
    )
    expected = reference.added

    shared = tmp_path / "shared"
    MemoryStore(pool_config(shared), minilm).add_many([])
    vote_id = json.loads(lines[0])["id"]
    slices = [lines[0:60], lines[30:90], lines[60:120], list(reversed(lines))]
    files = [_write(tmp_path, f"slice{index}", chunk) for index, chunk in enumerate(slices)]
    # Make sure the memory voted on exists before the voters start.
    import_file(MemoryStore(pool_config(shared), minilm), _write(tmp_path, "first", lines[:1]))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(shared), str(path), vote_id, "5"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (_stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr

    store = MemoryStore(pool_config(shared), minilm)
    memories = store.list_memories()
    ids = Counter(memory.id for memory in memories)
    assert all(count == 1 for count in ids.values()), "no id stored twice"
    assert len(memories) == expected, "every distinct memory stored exactly once"
    added = sum(int(stdout.split()[0]) for stdout, _ in outputs)
    assert added == expected - 1, "each memory was added by exactly one writer"
    assert store.get_required(vote_id).helpful == 20, "no feedback vote lost"


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path

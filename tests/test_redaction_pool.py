"""Every stored field redacted, through the pool's real entry points: the corpus of fake secrets is
written with ``MemoryStore.add_many``, imported from a JSONL file and recorded as events, then every
byte under the pool directory (LanceDB's data files included) is searched for each secret, and
every text the embedder was given is checked too."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from carryover.pipeline.capture.sink import PoolEventSink
from carryover.pipeline.events import CapturedEvent, TerminalEnded
from carryover.pool.importer import import_file
from carryover.pool.records import Kind, MemoryDraft, Provenance
from carryover.pool.redaction import redact_draft
from carryover.pool.store import MemoryStore
from tests.data.secrets.build_corpus import secret_pieces
from tests.support.pools import pool_config
from tests.test_capture_segment import HashEmbedder
from tests.test_redaction_corpus import SECRETS, leaked_windows

MARKER = "plain-text-marker-5b9e"


class RecordingEmbedder(HashEmbedder):
    """The test embedder, keeping every text it was asked to embed (what a remote one would get)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return super().embed(texts)


def secret_line(entry: dict[str, Any]) -> str:
    """The line holding the secret: what a one-line field (title, command, source) would hold."""
    first = secret_pieces(entry["secret"])[0]
    text: str = entry["text"]
    return next(line for line in text.splitlines() if first in line)


def fields(entry: dict[str, Any], index: int) -> dict[str, Any]:
    """An import object that puts the entry's secret in every field a memory has."""
    text, line = entry["text"], secret_line(entry)
    return {
        "kind": "insight",
        "title": f"{MARKER} {index} {line}",
        "description": text,
        "content": f"{MARKER}\n{text}",
        "when_not": line,
        "check_command": line,
        "languages": [line],
        "tools": [line],
        "id": f"mem_{index}_{line}",
        "provenance": {"workspace": line, "source": line, "distilled_by": line, "episode_ids": [line]},
    }


def every_byte(root: Path) -> bytes:
    return b"\x00".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


def on_disk(data: bytes, secret: str) -> list[str]:
    """The pieces of ``secret`` found in ``data``, as they are and lower-cased (tags are)."""
    return [
        piece
        for piece in secret_pieces(secret)
        if len(piece) >= 6 and (piece.encode() in data or piece.lower().encode() in data)
    ]


def test_every_field_of_every_memory_is_redacted_on_disk(tmp_path: Path) -> None:
    embedder = RecordingEmbedder()
    store = MemoryStore(pool_config(tmp_path), embedder)
    entries = [e for e in SECRETS if "\n" not in e["secret"]]
    half = len(entries) // 2
    # add_many: drafts as a distiller or the CLI hands them over.
    drafts = []
    for index, entry in enumerate(entries[:half]):
        raw = fields(entry, index)
        provenance = Provenance(**raw.pop("provenance"))
        drafts.append(MemoryDraft(**{**raw, "kind": Kind(raw["kind"])}, provenance=provenance))
    store.add_many(drafts)
    # import: a JSONL file, as `carryover import` reads it.
    path = tmp_path / "import.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for index, entry in enumerate(entries[half:], start=half):
            handle.write(json.dumps(fields(entry, index)) + "\n")
    report = import_file(store, path)
    assert report.errors == () or all("must" in error or "field" in error for error in report.errors)
    # Rejection reasons and events (payload strings) too.
    memory = store.list_memories(limit=1)[0]
    store.reject(memory.id, entries[0]["text"])
    sink = PoolEventSink(store, flush_interval_s=0.05)
    now = datetime(2026, 1, 1)
    for index, entry in enumerate(entries[::7]):
        payload = TerminalEnded(
            command=secret_line(entry),
            cwd="/w",
            terminal_id=f"t{index}",
            execution_id=f"e{index}",
            exit_code=1,
            started_at=now,
            ended_at=now,
            output_head=entry["text"],
            output_tail=entry["text"],
            output_truncated=False,
        )
        sink.record(CapturedEvent(workspace="/w", source="terminal", payload=payload))
    sink.close()
    store.maintain(force=True)

    data = every_byte(store.config.pool_dir)
    assert MARKER.encode() in data  # the scan sees plain text in LanceDB's files
    leaked = {e["secret"]: on_disk(data, e["secret"]) for e in entries}
    assert {secret: pieces for secret, pieces in leaked.items() if pieces} == {}
    # Read back through the store: no window of any secret in any field.
    stored = " ".join(json.dumps(m, default=str) for m in store.list_memories())
    assert len(store.list_memories()) >= len(entries) // 4
    missed = [e["kind"] for e in entries if leaked_windows(e["text"], e["secret"], stored)]
    assert missed == []
    # The embedder saw only redacted text (a remote one would be sent exactly this).
    sent = "\n".join(embedder.seen)
    assert MARKER in sent
    assert [e["kind"] for e in entries if e["secret"] in sent] == []


def test_redact_draft_covers_every_text_field() -> None:
    token = "ghp_" + "Zq8mW2vLaB3kkd9QTr0ub4dor3xY7p1Ks5Nj"
    draft = MemoryDraft(
        kind=Kind.INSIGHT,
        title=f"t {token}",
        description=token,
        content=token,
        when_not=token,
        check_command=f"GITHUB_TOKEN={token} make",
        languages=[token],
        tools=["pytest", token],
        id=f"mem_{token}",
        provenance=Provenance(workspace=f"/w/{token}", source=token, distilled_by=token, episode_ids=[token]),
    )
    clean = redact_draft(draft)
    assert token not in repr(clean) and token.lower() not in repr(clean)
    assert clean.tools == ("[redacted:tag]", "pytest") and clean.languages == ("[redacted:tag]",)
    assert clean.check_command == "GITHUB_TOKEN=[REDACTED:github-token] make"
    assert redact_draft(clean) == clean
    plain = MemoryDraft(kind=Kind.INSIGHT, title="Run pytest -x", tools=["pytest", "docker-compose"])
    assert redact_draft(plain) == plain

"""The capture service as the daemon runs it: editor events, an external change and a shell command
go in; the background worker segments and distils without being asked."""

from __future__ import annotations

import json
import time
from pathlib import Path

from carryover.pipeline.capture.filters import holds_ignore_rules
from carryover.pipeline.capture.live import LiveCapture
from carryover.pipeline.capture.shell_hook import default_log_path
from carryover.pipeline.segment import DISTILLED
from carryover.pipeline.service import CaptureService
from carryover.pool.records import Kind
from carryover.pool.store import MemoryStore
from tests.test_capture_segment import fast_store

__all__ = ["fast_store"]


def test_the_service_captures_segments_and_distils_in_the_background(
    fast_store: MemoryStore, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    (workspace / "src").mkdir(parents=True)
    (workspace / "src" / "util.py").write_text("def last(items):\n    return items[len(items)]\n")
    service = CaptureService(fast_store, [str(workspace)], flush_interval_s=0.05, distill_interval_s=0.5)
    service.worker._debounce_s = 0.0
    service.start()
    try:
        root = str(workspace.resolve())
        uri = f"file://{root}/src/util.py"
        capture = LiveCapture(lambda: [root])
        capture.attach(service.sink, service.note_editor_write)
        log = default_log_path(Path(fast_store.config.pool_dir))
        now = time.time()

        def shell(command: str, code: int, at: float) -> None:
            record = {"v": 1, "shell": "bash", "pid": 7, "started": at - 0.5, "ended": at, "exit_code": code}
            with log.open("a") as handle:
                handle.write(json.dumps({**record, "cwd": root, "command": command}) + "\n")

        shell("python -m pytest -q", 1, now - 30)
        capture.document_opened(uri, "python", 1, "def last(items):\n    return items[len(items)]\n")
        capture.document_changed(
            uri,
            2,
            [
                {
                    "range": {"start": {"line": 1, "character": 26}, "end": {"line": 1, "character": 26}},
                    "text": " - 1",
                }
            ],
        )
        capture.document_saved(uri)
        (workspace / "src" / "util.py").write_text("def last(items):\n    return items[len(items) - 1]\n")
        (workspace / "notes.md").write_text("changed by an agent\n")
        (workspace / ".env").write_text("TOKEN=abc\n")
        time.sleep(0.8)
        shell("python -m pytest -q", 0, time.time())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not fast_store.list_episodes(DISTILLED):
            time.sleep(0.1)
    finally:
        service.stop()
    (episode,) = fast_store.list_episodes(DISTILLED)
    assert episode.outcome == "success" and episode.workspace == root
    events = fast_store.read_events(ids=episode.event_ids)
    kinds = [event.type for event in events]
    assert kinds[0] == "shell.command" and kinds[-1] == "shell.command"
    assert "document.saved" in kinds and "file.changed_externally" in kinds
    external = [json.loads(e.payload)["path"] for e in events if e.type == "file.changed_externally"]
    assert external == ["notes.md"]  # the editor's own save is not external; .env is never captured
    assert {memory.kind for memory in fast_store.list_memories()} == set(Kind)


def test_a_gitignore_saved_in_the_editor_changes_what_live_capture_keeps_out(tmp_path: Path) -> None:
    root = str(tmp_path.resolve())
    ignore = tmp_path / ".gitignore"
    ignore.write_text("generated/\n", encoding="utf-8")
    capture = LiveCapture(lambda: [root])
    generated = f"{root}/generated/schema.py"
    assert capture.excluded(generated)
    ignore.write_text("dist/\n", encoding="utf-8")
    assert capture.excluded(generated)  # the rules read before stay until the file is saved
    capture.document_saved(f"file://{root}/.gitignore", "dist/\n")
    assert not capture.excluded(generated) and capture.excluded(f"{root}/dist/app.js")


def test_the_files_path_filters_read_their_rules_from() -> None:
    assert holds_ignore_rules("/w/.gitignore") and holds_ignore_rules("src/.gitignore")
    assert holds_ignore_rules(".git/info/exclude") and holds_ignore_rules("/w/.git/info/exclude")
    assert not holds_ignore_rules("/w/notes.gitignore") and not holds_ignore_rules("/w/src/exclude")

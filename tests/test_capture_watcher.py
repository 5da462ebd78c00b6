"""Files changed outside the editor, watched with watchdog on a real tmp workspace."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from carryover.pipeline.capture.filters import PathFilter, is_secret_path
from carryover.pipeline.capture.watcher import WorkspaceWatcher
from carryover.pipeline.events import CapturedEvent, FileChanged


class ListSink:
    def __init__(self) -> None:
        self.events: list[CapturedEvent] = []
        self.lock = threading.Lock()

    def record(self, event: CapturedEvent) -> None:
        with self.lock:
            self.events.append(event)

    def flush(self, timeout_s: float = 5.0) -> None:
        pass

    def changes(self) -> set[tuple[str, str]]:
        with self.lock:
            payloads = [e.payload for e in self.events]
        assert all(isinstance(payload, FileChanged) for payload in payloads)
        return {(p.path, p.change) for p in payloads if isinstance(p, FileChanged)}


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "build").mkdir()
    (root / "node_modules" / "left-pad").mkdir(parents=True)
    (root / "private").mkdir()
    (root / ".gitignore").write_text("build/\n*.log\n!keep.log\n")
    (root / "src" / "app.py").write_text("print('hi')\n")
    (root / "src" / "old.py").write_text("x = 1\n")
    return root


def test_external_changes_are_captured_and_secrets_and_ignored_files_are_not(workspace: Path) -> None:
    sink = ListSink()
    with WorkspaceWatcher(workspace, sink, exclude=["private/", "*.secret.json"], debounce_s=0.2):
        time.sleep(0.3)
        (workspace / "src" / "app.py").write_text("print('hello')\n")  # modified (a formatter)
        (workspace / "src" / "new.py").write_text("y = 2\n")  # created (an agent)
        (workspace / "src" / "old.py").unlink()  # deleted (a git checkout)
        (workspace / "README.md").write_text("# ws\n")  # created at the root
        # Never captured: secrets, user excludes, gitignored, noise.
        (workspace / ".env").write_text("API_TOKEN=abc123\n")
        (workspace / "src" / ".env.local").write_text("DB_PASSWORD=x\n")
        (workspace / "server.key").write_text("-----BEGIN PRIVATE KEY-----\n")
        (workspace / "private" / "notes.txt").write_text("mine\n")
        (workspace / "src" / "db.secret.json").write_text("{}\n")
        (workspace / "build" / "out.o").write_bytes(b"\0")
        (workspace / "debug.log").write_text("x\n")
        (workspace / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1\n")
        expected = {
            ("src/app.py", "modified"),
            ("src/new.py", "created"),
            ("src/old.py", "deleted"),
            ("README.md", "created"),
        }
        assert wait_for(lambda: expected <= sink.changes())
        (workspace / "keep.log").write_text("kept\n")  # re-included by !keep.log
        assert wait_for(lambda: ("keep.log", "created") in sink.changes())
        time.sleep(0.4)
    paths = {path for path, _change in sink.changes()}
    assert paths == {"src/app.py", "src/new.py", "src/old.py", "README.md", "keep.log"}
    assert all(e.type == "file.changed_externally" and e.source == "watcher" for e in sink.events)
    assert {e.workspace for e in sink.events} == {str(workspace.resolve())}


def test_the_editors_own_saves_and_atomic_renames(workspace: Path) -> None:
    sink = ListSink()
    with WorkspaceWatcher(workspace, sink, debounce_s=0.2) as watcher:
        time.sleep(0.3)
        watcher.note_editor_write(workspace / "src" / "app.py")
        (workspace / "src" / "app.py").write_text("print('saved by the editor')\n")
        # An atomic save by another tool: write a temp file, rename it over the target.
        temporary = workspace / "src" / ".new.py.swp"
        temporary.write_text("y = 3\n")
        os.replace(temporary, workspace / "src" / "old.py")
        assert wait_for(lambda: ("src/old.py", "modified") in sink.changes())
        time.sleep(0.4)
    assert "src/app.py" not in {path for path, _ in sink.changes()}
    assert ".new.py.swp" not in str(sink.changes())


def test_a_new_top_level_folder_is_watched(workspace: Path) -> None:
    sink = ListSink()
    with WorkspaceWatcher(workspace, sink, debounce_s=0.2):
        time.sleep(0.3)
        (workspace / "docs").mkdir()
        (workspace / "docs" / "guide.md").write_text("# guide\n")
        assert wait_for(lambda: ("docs/guide.md", "created") in sink.changes())
        time.sleep(0.3)
        (workspace / "docs" / "guide.md").write_text("# guide, edited\n")
        assert wait_for(lambda: ("docs/guide.md", "modified") in sink.changes())


def test_a_burst_becomes_one_bulk_event(workspace: Path) -> None:
    sink = ListSink()
    watcher = WorkspaceWatcher(workspace, sink, debounce_s=0.1, bulk_threshold=5)
    for index in range(12):
        watcher.on_raw_event("created", str(workspace / "src" / f"f{index}.py"))
    assert watcher.flush_now(force=True) == 1
    (event,) = sink.events
    assert isinstance(event.payload, FileChanged)
    assert event.payload.change == "bulk" and event.payload.count == 12 and len(event.payload.paths) == 12


def test_path_filter_layers(workspace: Path) -> None:
    (workspace / "src" / ".gitignore").write_text("generated_*.py\n")
    path_filter = PathFilter(workspace, ["*.csv"])
    assert not path_filter.excluded(workspace / "src" / "app.py")
    assert path_filter.excluded(workspace / "src" / "generated_api.py")  # a nested .gitignore
    assert path_filter.excluded(workspace / "data.csv")  # a user exclude
    assert path_filter.excluded(workspace / ".git" / "HEAD")
    assert path_filter.excluded("/elsewhere/file.py")  # outside the workspace
    for secret in (".env", "config/.env.production", "id_rsa", "certs/tls.pem", "deploy.key", ".npmrc"):
        assert is_secret_path(secret) and path_filter.excluded(workspace / secret), secret
    assert not is_secret_path("src/environment.py")

"""The shell hook in real shells, and the daemon-side follower of its log."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from carryover.pipeline.capture.shell_hook import SHELLS, run_shell_hook, shell_hook_snippet
from carryover.pipeline.capture.shell_log import ShellLogFollower
from carryover.pipeline.capture.sink import PoolEventSink
from carryover.pipeline.events import CapturedEvent
from carryover.pipeline.segment import FINISHED, segment_pending
from carryover.pool.store import MemoryStore
from tests.test_capture_segment import fast_store

__all__ = ["fast_store"]


class ListSink:
    def __init__(self) -> None:
        self.events: list[CapturedEvent] = []
        self.lock = threading.Lock()

    def record(self, event: CapturedEvent) -> None:
        with self.lock:
            self.events.append(event)

    def flush(self, timeout_s: float = 5.0) -> None:
        pass


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "TERM": "dumb", "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def run_bash(snippet_file: Path, workspace: Path, lines: Sequence[str], home: Path, **env: str) -> None:
    script = "\n".join([f"source {snippet_file}", f"cd {workspace}", *lines, "exit 0", ""])
    subprocess.run(
        ["bash", "--norc", "--noprofile", "-i"],
        input=script.encode(),
        env=clean_env(home, HISTFILE=str(home / "history"), **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
        check=False,
    )


def read_log(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    check = root / "check.sh"
    check.write_text('#!/bin/sh\n[ -f ready ] || { echo "not ready" >&2; exit 2; }\necho ok\n')
    check.chmod(0o755)
    return root


def test_bash_hook_logs_commands_and_the_follower_makes_an_episode(
    tmp_path: Path, workspace: Path, fast_store: MemoryStore
) -> None:
    pool_dir = Path(fast_store.config.pool_dir)
    snippet = tmp_path / "hook.bash"
    snippet.write_text(run_shell_hook("bash", pool_dir))
    log = pool_dir / "shell" / "commands.jsonl"
    run_bash(
        snippet,
        workspace,
        ["ls", "./check.sh", 'echo "a \\"quoted\\" word"', " echo private", "touch ready", "./check.sh"],
        tmp_path,
        HISTCONTROL="ignoreboth",
    )
    records = read_log(log)
    commands = [(r["command"], r["exit_code"]) for r in records]
    assert commands[1:] == [
        ("ls", 0),
        ("./check.sh", 2),
        ('echo "a \\"quoted\\" word"', 0),
        ("touch ready", 0),
        ("./check.sh", 0),
    ]  # the space-prefixed command is private: not logged
    assert all(r["shell"] == "bash" and r["cwd"] in (str(workspace), str(tmp_path)) for r in records)
    assert all(isinstance(r["started"], float) and r["ended"] >= r["started"] for r in records)  # type: ignore[operator]

    sink = PoolEventSink(fast_store, flush_interval_s=0.05)
    follower = ShellLogFollower(log, sink, [str(workspace)])
    assert follower.poll_once() == len(records)
    assert follower.poll_once() == 0  # nothing twice
    sink.close()
    rows = fast_store.read_events()
    assert [json.loads(row.payload)["command"] for row in rows][-2:] == ["touch ready", "./check.sh"]
    assert {row.workspace for row in rows if json.loads(row.payload)["cwd"] == str(workspace)} == {
        str(workspace)
    }
    assert {row.source for row in rows} == {"shell-hook"} and {row.type for row in rows} == {"shell.command"}
    report = segment_pending(fast_store, now=rows[-1].time + timedelta(hours=1))
    (episode,) = fast_store.list_episodes(FINISHED)
    assert episode.outcome == "success" and episode.goal == "Make `./check.sh` pass"
    assert len(episode.event_ids) == 4 and report.finished


def test_two_shells_at_once_write_whole_lines(tmp_path: Path, workspace: Path) -> None:
    log = tmp_path / "pool" / "shell" / "commands.jsonl"
    snippet = tmp_path / "hook.bash"
    snippet.write_text(shell_hook_snippet("bash", log))
    lines = [f"echo {'x' * 300} {n} >/dev/null" for n in range(60)]
    threads = [
        threading.Thread(target=run_bash, args=(snippet, workspace, lines, tmp_path / f"h{i}"))
        for i in range(3)
    ]
    for i, thread in enumerate(threads):
        (tmp_path / f"h{i}").mkdir()
        thread.start()
    for thread in threads:
        thread.join(60)
    records = read_log(log)  # every line parses
    assert len(records) == 3 * 61
    assert len({r["pid"] for r in records}) == 3


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_hook(tmp_path: Path, workspace: Path) -> None:
    log = tmp_path / "zsh" / "commands.jsonl"
    snippet = tmp_path / "hook.zsh"
    snippet.write_text(shell_hook_snippet("zsh", log))
    lines = ["setopt histignorespace", f"source {snippet}", f"cd {workspace}", "./check.sh"]
    script = "\n".join([*lines, "print -r -- 'tab\there'", " echo hidden", ""])
    subprocess.run(
        ["zsh", "-f", "-i"],
        input=script.encode(),
        env=clean_env(tmp_path),
        capture_output=True,
        timeout=30,
        check=False,
    )
    records = read_log(log)
    assert [(r["command"], r["exit_code"]) for r in records][-3:] == [
        (f"cd {workspace}", 0),
        ("./check.sh", 2),
        ("print -r -- 'tab\there'", 0),
    ]  # the space-prefixed command is private: not logged
    assert all(r["shell"] == "zsh" for r in records)


def _pty_session(argv: list[str], lines: Sequence[str], env: dict[str, str]) -> None:
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execve(argv[0], argv, env)

    def drain(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    os.read(master, 65536)
                except OSError:
                    return

    drain(1.5)
    for line in lines:
        os.write(master, (line + "\n").encode())
        drain(0.7)
    os.waitpid(pid, 0)
    os.close(master)


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_hook(tmp_path: Path, workspace: Path) -> None:
    log = tmp_path / "fish" / "commands.jsonl"
    snippet = tmp_path / "hook.fish"
    snippet.write_text(shell_hook_snippet("fish", log))
    home = tmp_path / "fhome"
    home.mkdir()
    fish = shutil.which("fish")
    assert fish is not None
    env = clean_env(home, XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".data"))
    _pty_session([fish, "-i"], [f"source {snippet}", f"cd {workspace}", "./check.sh", "exit"], env)
    records = read_log(log)
    assert ("./check.sh", 2) in [(r["command"], r["exit_code"]) for r in records]
    assert all(r["shell"] == "fish" for r in records)


def test_unknown_shell_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown shell"):
        run_shell_hook("tcsh", Path("/tmp/pool"))
    for shell in SHELLS:
        assert "carryover" in shell_hook_snippet(shell, Path("/tmp/p o'ol/shell/commands.jsonl")).lower()


# -- the follower ------------------------------------------------------------------------------------


def line(command: str, code: int, cwd: str = "/w", ended: float = 1_760_000_000.0) -> str:
    record = {
        "v": 1,
        "shell": "bash",
        "pid": 1,
        "started": ended - 1,
        "ended": ended,
        "exit_code": code,
        "cwd": cwd,
    }
    return json.dumps({**record, "command": command}) + "\n"


def test_follower_tails_complete_lines_and_survives_truncation_and_rotation(tmp_path: Path) -> None:
    log = tmp_path / "shell" / "commands.jsonl"
    log.parent.mkdir()
    sink = ListSink()
    follower = ShellLogFollower(log, sink, ["/w"])
    assert follower.poll_once() == 0  # no log yet
    with log.open("a") as handle:
        handle.write(
            line("make", 2) + line("make", 0, ended=1_760_000_005.0) + '{"v":1,"comm'
        )  # a line in progress
    assert follower.poll_once() == 2
    with log.open("a") as handle:
        handle.write('and":"ls","cwd":"/w","exit_code":0}\n' + "not json\n")
    assert follower.poll_once() == 1  # the finished line; the malformed one is skipped
    assert [e.payload["command"] for e in sink.events] == ["make", "make", "ls"]
    assert sink.events[0].time.year == 2025 and sink.events[0].workspace == "/w"
    # Truncated: read again from the start.
    log.write_text(line("cargo test", 101))
    assert follower.poll_once() == 1 and sink.events[-1].payload["command"] == "cargo test"
    # Rotated, with a line still unread in the old file.
    with log.open("a") as handle:
        handle.write(line("go test ./...", 1))
    log.rename(log.with_name("commands.jsonl.1"))
    log.write_text(line("go test ./...", 0))
    assert follower.poll_once() == 2
    assert [e.payload["exit_code"] for e in sink.events[-2:]] == [1, 0]
    # A restarted follower resumes from the saved offset.
    again = ShellLogFollower(log, sink, ["/w"])
    assert again.poll_once() == 0
    # Ids are stable, so a line read twice is stored once.
    assert len({e.id for e in sink.events}) == len(sink.events)


def test_follower_with_watchdog_sees_new_lines_quickly(tmp_path: Path) -> None:
    log = tmp_path / "shell" / "commands.jsonl"
    sink = ListSink()
    with ShellLogFollower(log, sink, ["/w"], poll_interval_s=30.0):
        time.sleep(0.3)
        with log.open("a") as handle:
            handle.write(line("npm test", 1))
        deadline = time.monotonic() + 5
        while not sink.events and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [e.payload["command"] for e in sink.events] == ["npm test"]


def test_follower_workspace_falls_back_to_the_git_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "sub").mkdir()
    follower = ShellLogFollower(tmp_path / "log.jsonl", ListSink(), [])
    assert follower.workspace_for(str(repo / "sub")) == str(repo)
    assert follower.workspace_for(str(tmp_path)) == str(tmp_path)

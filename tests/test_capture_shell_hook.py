"""The shell hook in real shells, and the daemon-side follower of its log."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from carryover.pipeline.capture.shell_hook import (
    MAX_RECORD_BYTES,
    SHELLS,
    record_from_stdin,
    run_shell_hook,
    shell_hook_snippet,
)
from carryover.pipeline.capture.shell_log import ShellLogFollower
from carryover.pipeline.capture.sink import PoolEventSink
from carryover.pipeline.events import CapturedEvent, ShellCommand
from carryover.pipeline.segment import FINISHED, segment_pending
from carryover.pool.store import MemoryStore
from tests.support.pools import pool_config
from tests.test_capture_segment import HashEmbedder, fast_store

__all__ = ["fast_store"]

DATA_SECRETS = Path(__file__).parent / "data" / "secrets"


class ListSink:
    def __init__(self) -> None:
        self.events: list[CapturedEvent] = []
        self.lock = threading.Lock()

    def record(self, event: CapturedEvent) -> None:
        with self.lock:
            self.events.append(event)

    def flush(self, timeout_s: float = 5.0) -> None:
        pass

    def commands(self) -> list[ShellCommand]:
        """The recorded payloads, each checked to be a shell command."""
        with self.lock:
            payloads = [event.payload for event in self.events]
        commands: list[ShellCommand] = []
        for payload in payloads:
            assert isinstance(payload, ShellCommand), payload
            commands.append(payload)
        return commands


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
        timeout=180,
        check=False,
    )


def read_log(path: Path) -> list[dict[str, object]]:
    """The complete records (a recorder may be writing the last line right now, as the follower
    knows: it reads whole lines only)."""
    text = path.read_text(encoding="utf-8")
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines()]


def wait_for_log(path: Path, count: int, timeout_s: float = 120.0) -> list[dict[str, object]]:
    """The log once ``count`` records are in it (each command's recorder runs detached, so records
    arrive after the shell has moved on), in the order the commands started."""
    deadline = time.monotonic() + timeout_s
    records: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        if path.exists():
            records = read_log(path)
            if len(records) >= count:
                break
        time.sleep(0.1)
    time.sleep(0.3)  # a straggler would show up now
    records = read_log(path) if path.exists() else []
    return sorted(records, key=lambda r: (r["started"] or 0, r["ended"] or 0))


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
    records = wait_for_log(log, 6)
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
    lines = [f"echo {'x' * 300} {n} >/dev/null" for n in range(20)]
    threads = [
        threading.Thread(target=run_bash, args=(snippet, workspace, lines, tmp_path / f"h{i}"))
        for i in range(3)
    ]
    for i, thread in enumerate(threads):
        (tmp_path / f"h{i}").mkdir()
        thread.start()
    for thread in threads:
        thread.join(60)
    records = wait_for_log(log, 3 * 21)  # every line parses
    assert len(records) == 3 * 21
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
        timeout=120,
        check=False,
    )
    records = wait_for_log(log, 3)
    assert [(r["command"], r["exit_code"]) for r in records][-3:] == [
        (f"cd {workspace}", 0),
        ("./check.sh", 2),
        ("print -r -- 'tab\there'", 0),
    ]  # the space-prefixed command is private: not logged
    assert all(r["shell"] == "zsh" for r in records)


def _pty_session(argv: list[str], lines: Sequence[str], env: dict[str, str], pause_s: float = 0.7) -> None:
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
        drain(pause_s)
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
    records = wait_for_log(log, 3)
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
    assert [c.command for c in sink.commands()] == ["make", "make", "ls"]
    assert sink.events[0].time.year == 2025 and sink.events[0].workspace == "/w"
    # Truncated: read again from the start.
    log.write_text(line("cargo test", 101))
    assert follower.poll_once() == 1 and sink.commands()[-1].command == "cargo test"
    # Rotated, with a line still unread in the old file.
    with log.open("a") as handle:
        handle.write(line("go test ./...", 1))
    log.rename(log.with_name("commands.jsonl.1"))
    log.write_text(line("go test ./...", 0))
    assert follower.poll_once() == 2
    assert [c.exit_code for c in sink.commands()[-2:]] == [1, 0]
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
    assert [c.command for c in sink.commands()] == ["npm test"]


def test_follower_workspace_falls_back_to_the_git_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "sub").mkdir()
    follower = ShellLogFollower(tmp_path / "log.jsonl", ListSink(), [])
    assert follower.workspace_for(str(repo / "sub")) == str(repo)
    assert follower.workspace_for(str(tmp_path)) == str(tmp_path)


# -- no plain-text secret on disk -----------------------------------------------------------------

SECRET_CORPUS = DATA_SECRETS / "secrets.jsonl"
_PROMPT = re.compile(r"^(?:\S*[$%#❯] |\s*[0-9]+\s+)")


def typed_lines(limit: int = 80) -> list[tuple[str, str]]:
    """Single command lines from the secret corpus as a person would type them: ``(line, secret)``,
    prompt taken off, only lines a shell reads as one whole command; one kind after another (each
    kind once before any kind twice)."""
    by_kind: dict[str, list[tuple[str, str]]] = {}
    for raw in SECRET_CORPUS.read_text(encoding="utf-8").splitlines():
        entry = json.loads(raw)
        secret = entry["secret"]
        if "\n" in secret:
            continue
        line = next((ln for ln in entry["text"].splitlines() if secret in ln), "")
        line = _PROMPT.sub("", line, count=1)
        if not line or any(c in line for c in "`()") or not re.match(r"[A-Za-z_./][\w./-]*[ =]", line):
            continue
        try:
            shlex.split(line)
        except ValueError:
            continue
        by_kind.setdefault(entry["kind"], []).append((line, secret))
    lines: list[tuple[str, str]] = []
    for round_ in range(max(len(v) for v in by_kind.values())):
        lines += [entries[round_] for entries in by_kind.values() if round_ < len(entries)]
    return lines[:limit]


def every_file(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_secrets_typed_at_a_real_interactive_bash_never_reach_the_disk(tmp_path: Path) -> None:
    """Issue 12, item 1: 41 of 67 typed secrets were in the shell log verbatim."""
    pool_dir = tmp_path / "pool"
    store = MemoryStore(pool_config(tmp_path), HashEmbedder())
    assert store.config.pool_dir == pool_dir
    snippet = tmp_path / "hook.bash"
    snippet.write_text(run_shell_hook("bash", pool_dir))
    home = tmp_path / "home"
    (home / "work").mkdir(parents=True)
    typed = typed_lines()
    assert len(typed) >= 60 and len({secret for _, secret in typed}) >= 60
    marker = "carryover-plain-marker-7f3a"
    # An empty PATH: typed commands are "not found" at once, nothing reaches the network.
    env = clean_env(home, PATH=str(tmp_path / "no-bin"), HISTFILE=str(home / "history"), PS1="$ ")
    bash = shutil.which("bash")
    assert bash is not None
    session = [f"source {snippet}", "set +H", f"cd {home / 'work'}", *(line for line, _ in typed)]
    _pty_session([bash, "--norc", "--noprofile", "-i"], [*session, f"echo {marker}", "exit"], env, 0.25)
    log = pool_dir / "shell" / "commands.jsonl"
    records = wait_for_log(log, len(typed) + 3, timeout_s=240)
    # Every line bash ran was logged (a line it could not parse never ran, and is not logged).
    assert len(records) >= 0.9 * len(typed)
    assert any(marker in str(r["command"]) for r in records)
    assert all(r["v"] == 2 for r in records)

    sink = PoolEventSink(store, flush_interval_s=0.05)
    follower = ShellLogFollower(log, sink, [str(home)])
    assert follower.poll_once() == len(records)
    sink.close()
    store.maintain(force=True)

    files = every_file(pool_dir)
    lance = {path: data for path, data in files.items() if ".lance" in str(path)}
    assert lance, "the events went to LanceDB files"
    # Plain text is visible to this scan, in the log and in LanceDB's files alike.
    assert marker.encode() in files[log] and any(marker.encode() in data for data in lance.values())
    leaked = [
        (path.name, secret)
        for secret in {secret for _, secret in typed}
        for path, data in files.items()
        if secret.encode() in data
    ]
    assert leaked == []
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    assert oct(log.parent.stat().st_mode & 0o777) == "0o700"
    assert oct(pool_dir.stat().st_mode & 0o777) == "0o700"


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_hook_redacts_before_writing(tmp_path: Path) -> None:
    log = tmp_path / "pool" / "shell" / "commands.jsonl"
    snippet = tmp_path / "hook.zsh"
    snippet.write_text(shell_hook_snippet("zsh", log))
    token = "ghp_" + "Zq8mW2vLaB3kkd9QTr0ub4dor3xY7p1Ks5Nj"
    script = "\n".join([f"source {snippet}", f"export GITHUB_TOKEN={token}", "true", ""])
    subprocess.run(
        ["zsh", "-f", "-i"],
        input=script.encode(),
        env=clean_env(tmp_path),
        capture_output=True,
        timeout=120,
        check=False,
    )
    records = wait_for_log(log, 2)
    assert "export GITHUB_TOKEN=[REDACTED:github-token]" in [r["command"] for r in records]
    assert token.encode() not in log.read_bytes()


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_hook_redacts_before_writing(tmp_path: Path) -> None:
    log = tmp_path / "pool" / "shell" / "commands.jsonl"
    snippet = tmp_path / "hook.fish"
    snippet.write_text(shell_hook_snippet("fish", log))
    home = tmp_path / "fhome"
    home.mkdir()
    fish = shutil.which("fish")
    assert fish is not None
    token = "glpat-" + "Zq8mW2vLaB3kkd9QTr0u"
    env = clean_env(home, XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".data"))
    _pty_session([fish, "-i"], [f"source {snippet}", f"set -x GITLAB_TOKEN {token}", "true", "exit"], env)
    records = wait_for_log(log, 3)
    assert "set -x GITLAB_TOKEN [REDACTED:gitlab-token]" in [r["command"] for r in records]
    assert token.encode() not in log.read_bytes()


def test_the_snippets_never_write_the_log_themselves() -> None:
    for shell in SHELLS:
        snippet = shell_hook_snippet(shell, Path("/p/shell/commands.jsonl"), python="/venv/bin/python")
        assert ">>" not in snippet and "<<<" not in snippet  # no append, no here-string temp file
        assert "--record" in snippet and "/venv/bin/python" in snippet


# -- the recorder -----------------------------------------------------------------------------------


def record(command: str, **fields: object) -> bytes:
    raw = {"v": 1, "shell": "bash", "pid": 7, "started": 1.5, "ended": 2.5, "exit_code": 0, "cwd": "/w"}
    return json.dumps({**raw, **fields, "command": command}).encode()


def test_the_recorder_redacts_and_appends_privately(tmp_path: Path) -> None:
    log = tmp_path / "pool" / "shell" / "commands.jsonl"
    secret = "hunter2x!Zq8"
    assert record_from_stdin(None, io.BytesIO(record(f"PGPASSWORD={secret} psql -h db")), log)
    assert record_from_stdin(
        tmp_path / "pool", io.BytesIO(record("ls", cwd="/srv/glpat-Zq8mW2vLaB3kkd9QTr0u"))
    )
    lines = log.read_text().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["command"] == "PGPASSWORD=[REDACTED:generic-password] psql -h db" and first["v"] == 2
    assert second["cwd"] == "/srv/[REDACTED:gitlab-token]"
    assert secret not in log.read_text()
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    assert oct(log.parent.stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "pool").stat().st_mode & 0o777) == "0o700"


def test_the_recorder_narrows_files_an_older_hook_left_open(tmp_path: Path) -> None:
    shell_dir = tmp_path / "shell"
    shell_dir.mkdir(mode=0o755)
    log = shell_dir / "commands.jsonl"
    log.write_text("")
    log.chmod(0o644)
    assert record_from_stdin(None, io.BytesIO(record("make")), log)
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    assert oct(shell_dir.stat().st_mode & 0o777) == "0o700"


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'{"command": 3}', b"\xff\xfe{"])
def test_the_recorder_writes_nothing_for_a_bad_record(tmp_path: Path, raw: bytes) -> None:
    log = tmp_path / "shell" / "commands.jsonl"
    assert not record_from_stdin(None, io.BytesIO(raw), log)
    assert not log.exists()


def test_a_long_record_stays_one_line_under_4_kib(tmp_path: Path) -> None:
    log = tmp_path / "commands.jsonl"
    command = " ".join(f"A{n}_TOKEN=Zq8mW2vLaB3k{n:04d}" for n in range(300))[:2000]
    assert record_from_stdin(None, io.BytesIO(record(command, cwd="/" + "d" * 2000)), log)
    data = log.read_bytes()
    assert len(data) <= MAX_RECORD_BYTES and data.count(b"\n") == 1
    assert "Zq8mW2vLaB3k" not in json.loads(data)["command"]


def test_the_recorder_as_the_hook_runs_it(tmp_path: Path) -> None:
    log = tmp_path / "pool" / "shell" / "commands.jsonl"
    token = "xoxb-123456789012-1234567890123-Zq8mW2vLaB3kkd9QTr0ub4do"
    done = subprocess.run(
        [sys.executable, "-I", "-m", "carryover.pipeline.capture.shell_hook", "--record", str(log)],
        input=record(f"curl -H 'Authorization: Bearer {token}' https://slack.com/api/x"),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout == b"" and done.stderr == b""
    assert token not in log.read_text() and "[REDACTED:slack-token]" in log.read_text()
    usage = subprocess.run(
        [sys.executable, "-m", "carryover.pipeline.capture.shell_hook"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 2 and b"usage" in usage.stderr


def test_the_follower_redacts_lines_of_an_older_hook(tmp_path: Path) -> None:
    """Defence in depth: a version-1 line (written in plain text by an older hook) is redacted."""
    log = tmp_path / "shell" / "commands.jsonl"
    log.parent.mkdir()
    log.write_text(line("export STRIPE_SECRET_KEY=sk_live_Zq8mW2vLaB3kkd9QTr0ub4do", 0))
    sink = ListSink()
    assert ShellLogFollower(log, sink, ["/w"]).poll_once() == 1
    assert sink.commands()[0].command == "export STRIPE_SECRET_KEY=[REDACTED:stripe-key]"
    state = log.with_name("commands.jsonl.offset.json")
    assert oct(state.stat().st_mode & 0o777) == "0o600"

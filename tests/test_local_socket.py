"""The command line through a running daemon's local socket: real ``carryover serve`` processes, a
real AF_UNIX socket in the pool directory, a real LanceDB pool on disk.

The same read command gives the same output through the socket as in its own process; writes made
by another process are seen at once; a stale socket (a killed daemon) or a daemon that never
answers makes the command run here; the first daemon on a pool owns the socket and a second one
takes over when the first ends; the socket is the user's alone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.startup import RawClient, start_daemon
from carryover.local.protocol import (
    Answer,
    ListArgs,
    ProtocolError,
    ReadRequest,
    SearchArgs,
    ShowArgs,
    Unavailable,
    decode_answer,
    decode_request,
    encode_answer,
    encode_request,
    socket_path,
)
from tests.support.pools import EXAMPLES


def carryover(root: Path, *args: str, pool: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARRYOVER_HOME": str(root / "home")}
    command = [sys.executable, "-m", "carryover", "--db", str(pool or root / "pool"), *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=120)


def said(stderr: str) -> list[str]:
    """What the command told the user on stderr (its log lines left out)."""
    return [line for line in stderr.splitlines() if line.startswith("carryover:")]


def wait_for_socket(pool: Path, timeout_s: float = 60.0) -> Path:
    path = socket_path(pool)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            return path
        time.sleep(0.05)
    raise AssertionError(f"no socket at {path}")


def daemon(root: Path, pool: Path | None = None) -> RawClient:
    pool = pool or root / "pool"
    workspace = root / "ws"
    workspace.mkdir(exist_ok=True)
    client, _, _ = start_daemon(pool, workspace)  # CARRYOVER_HOME: the pool's parent/home
    return client


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sock")
    result = carryover(root, "import", str(EXAMPLES))
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def served(seeded: Path) -> Iterator[Path]:
    client = daemon(seeded)
    wait_for_socket(seeded / "pool")
    yield seeded
    client.close()


SEARCHES = [
    ("TypeError: Cannot read properties of undefined (reading 'map')", "--language", "typescript"),
    ("items[0].name", "--language", "python", "--diagnostic", "Object is possibly 'None'", "--json"),
    ("cargo build", "--failed-command", "cargo test", "--output", "error[E0502]: cannot borrow", "--k", "5"),
    ("npm test", "--kind", "insight", "--kind", "workflow", "--min-score", "0.2", "--json"),
    ("subprocess.run(f'ls {path}', shell=True)", "--workspace", "/tmp/elsewhere", "--json"),
    ("anything at all", "--k", "99"),  # an error, said the same way
]


@pytest.mark.parametrize("search", SEARCHES, ids=[str(index) for index in range(len(SEARCHES))])
def test_a_search_through_the_socket_is_the_search_here(served: Path, search: tuple[str, ...]) -> None:
    through = carryover(served, "-v", "search", *search)
    here = carryover(served, "--no-daemon", "search", *search)
    assert "answered by the daemon" in through.stderr
    assert through.stdout == here.stdout
    assert through.returncode == here.returncode
    assert said(through.stderr) == said(here.stderr)
    if "--json" in search:
        hits = json.loads(through.stdout)["hits"]
        assert [hit["id"] for hit in hits] == [hit["id"] for hit in json.loads(here.stdout)["hits"]]
        assert hits, "the search should find something on the seeded pool"


def test_output_from_a_file_is_read_by_the_caller(served: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.txt"
    output.write_text("thread 'main' panicked at 'called `Option::unwrap()` on a `None` value'\n")
    args = ("x.unwrap()", "--failed-command", "cargo run", "--output", f"@{output}", "--json")
    through = carryover(served, "-v", "search", *args)
    here = carryover(served, "--no-daemon", "search", *args)
    assert "answered by the daemon" in through.stderr
    assert through.stdout == here.stdout and json.loads(through.stdout)["hits"]


def test_show_and_list_through_the_socket(served: Path) -> None:
    listed = carryover(served, "-v", "list", "--json")
    assert "answered by the daemon" in listed.stderr
    assert listed.stdout == carryover(served, "--no-daemon", "list", "--json").stdout
    first = json.loads(listed.stdout)[0]["id"]
    for args in (
        ("list",),
        ("list", "--kind", "insight", "--limit", "2"),
        ("show", first),
        ("show", first[:10]),
    ):
        through, here = carryover(served, *args), carryover(served, "--no-daemon", *args)
        assert (through.stdout, through.returncode) == (here.stdout, here.returncode)
    missing = carryover(served, "-v", "show", "mem_nothing_like_this")
    assert "answered by the daemon" in missing.stderr
    assert missing.returncode == 1 and "carryover: no memory mem_nothing_like_this" in missing.stderr


def test_a_write_by_another_process_is_seen_at_once(served: Path) -> None:
    added = carryover(
        served, "add", "--kind", "insight", "--title", "Quokka lanterns need a zebra check", "--json"
    )
    assert added.returncode == 0, added.stderr
    memory_id = json.loads(added.stdout)["id"]
    found = carryover(served, "-v", "search", "quokka lanterns zebra", "--json")
    assert "answered by the daemon" in found.stderr
    assert memory_id in [hit["id"] for hit in json.loads(found.stdout)["hits"]]
    shown = carryover(served, "-v", "show", memory_id)
    assert "Quokka lanterns" in shown.stdout
    assert carryover(served, "forget", memory_id).returncode == 0


def test_the_socket_is_the_users_alone(served: Path) -> None:
    path = socket_path(served / "pool")
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_client_side_imports_no_lsp_and_no_lancedb(served: Path) -> None:
    script = (
        "import sys\n"
        "from carryover.cli import main\n"
        f"code = main(['--db', {str(served / 'pool')!r}, 'search', 'cannot read property', '--json'])\n"
        "tops = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = sorted(tops & {'pygls', 'lsprotocol', 'lancedb', 'pyarrow'})\n"
        "print('HEAVY', heavy, code, file=sys.stderr)\n"
    )
    env = {**os.environ, "CARRYOVER_HOME": str(served / "home")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert "HEAVY [] 0" in result.stderr, result.stderr
    assert json.loads(result.stdout)["hits"]


def test_bad_and_foreign_requests_are_answered_unavailable(served: Path) -> None:
    path = socket_path(served / "pool")

    def exchange(data: bytes) -> Answer | Unavailable:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(str(path))
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return decode_answer(b"".join(chunks))

    assert isinstance(exchange(b"not json\n"), Unavailable)
    assert isinstance(exchange(b'{"version": 1, "command": "forget", "forget": {}}\n'), Unavailable)
    other = ReadRequest(args=ListArgs(), config="0" * 64)  # another configuration
    answer = exchange(encode_request(other))
    assert isinstance(answer, Unavailable) and "configuration" in answer.reason
    # and it still serves
    assert "answered by the daemon" in carryover(served, "-v", "list").stderr


def test_a_stale_socket_is_no_obstacle(seeded: Path, tmp_path: Path) -> None:
    root = tmp_path
    pool = root / "pool"
    assert carryover(root, "import", str(EXAMPLES)).returncode == 0
    client = daemon(root)
    wait_for_socket(pool)
    client.process.send_signal(signal.SIGKILL)
    client.process.wait(30)
    assert socket_path(pool).exists()  # left behind
    result = carryover(root, "-v", "search", "cannot read properties of undefined", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["hits"]
    assert "answered by the daemon" not in result.stderr
    # the next daemon removes it and serves again
    client = daemon(root)
    try:
        deadline = time.monotonic() + 60
        while "answered by the daemon" not in carryover(root, "-v", "list").stderr:
            assert time.monotonic() < deadline, "the new daemon never served the socket"
            time.sleep(0.2)
    finally:
        client.close()
    assert not socket_path(pool).exists()  # a daemon that ends removes its socket


def test_a_daemon_that_never_answers_is_given_up(tmp_path: Path) -> None:
    """A socket that accepts and then says nothing (a stopped daemon): the command runs here."""
    root = tmp_path
    assert carryover(root, "import", str(EXAMPLES)).returncode == 0
    path = socket_path(root / "pool")
    path.parent.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(4)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        result = carryover(root, "-v", "list", "--json")
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join(5)
        for sock in held:
            sock.close()
        listener.close()
    assert result.returncode == 0 and json.loads(result.stdout)
    assert "did not answer" in result.stderr
    assert took < 60


def test_two_daemons_on_one_pool_the_first_owns_the_socket(tmp_path: Path) -> None:
    root = tmp_path
    pool = root / "pool"
    assert carryover(root, "import", str(EXAMPLES)).returncode == 0
    first = daemon(root)
    wait_for_socket(pool)
    inode = socket_path(pool).stat().st_ino
    second = daemon(root)
    try:
        time.sleep(1.0)
        assert socket_path(pool).stat().st_ino == inode  # the second one did not replace it
        assert "answered by the daemon" in carryover(root, "-v", "list").stderr
        first.close()
        deadline = time.monotonic() + 60
        while "answered by the daemon" not in carryover(root, "-v", "list").stderr:
            assert time.monotonic() < deadline, "the second daemon never took over"
            time.sleep(0.5)
        assert socket_path(pool).stat().st_ino != inode
    finally:
        second.close()


def test_a_pool_path_too_long_for_a_socket_address(tmp_path: Path) -> None:
    pool = tmp_path / ("p" * 60) / ("q" * 60) / "pool"
    assert len(os.fsencode(socket_path(pool))) > 108
    root = pool.parent  # the daemon's CARRYOVER_HOME is root/home
    assert carryover(root, "import", str(EXAMPLES), pool=pool).returncode == 0
    client = daemon(tmp_path, pool)
    try:
        wait_for_socket(pool)
        through = carryover(root, "-v", "list", pool=pool)
        assert "answered by the daemon" in through.stderr
        assert through.stdout == carryover(root, "--no-daemon", "list", pool=pool).stdout
    finally:
        client.close()


# ----- the protocol alone ----------------------------------------------------------------------


def test_requests_and_answers_round_trip() -> None:
    for args in (
        SearchArgs(query="q\nwith a line break", diagnostics=("d",), kinds=("insight",), k=5, min_score=0.5),
        ShowArgs(id="mem_1", json=True),
        ListArgs(kind="insight", status="pinned", limit=3),
    ):
        request = ReadRequest(args=args, config="c")
        line = encode_request(request)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert decode_request(line) == request
    for answer in (Answer("out\n", "err\n", 1), Unavailable("busy")):
        assert decode_answer(encode_answer(answer)) == answer


@pytest.mark.parametrize(
    "line",
    [
        b"[]",
        b'{"version": 2, "command": "list", "config": "c", "list": {}}',
        b'{"version": 1, "command": "list", "config": "c", "list": {"limit": "3"}}',
        b'{"version": 1, "command": "list", "config": "c", "list": {"limit": true}}',
        b'{"version": 1, "command": "list", "config": "c", "list": {"evil": 1}}',
        b'{"version": 1, "command": "show", "config": "c", "show": {}}',
        b'{"version": 1, "command": "search", "config": 3, "search": {"query": "q"}}',
        b'{"version": 1, "command": "search", "config": "c", "search": {"query": "q", "kinds": "insight"}}',
    ],
)
def test_malformed_requests_are_refused(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_request(line)

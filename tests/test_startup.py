"""``initialize`` answered before pygls is imported (carryover/lsp/early.py), and correct for every
client: the answer sent early is the one pygls computes for the registered features, the server
initializes as if pygls had answered, and nothing heavy is imported on the way to the answer.
Real server subprocesses over pipes; the client capabilities of VS Code, Neovim and Emacs as
pytest-lsp ships them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp

from benchmarks.startup import RawClient
from carryover.lsp.app import create_server
from carryover.lsp.early import ANSWER_FILE, early_result, generated_source, pygls_result
from tests.support.pools import EXAMPLES

CLIENTS = sorted((Path(pytest_lsp.__file__).parent / "clients").glob("*.json"))
ENCODINGS: list[Any] = [["utf-32", "utf-16"], ["utf-8"], ["latin-1"], ["latin-1", "utf-32"], []]


def client_params(path: Path) -> dict[str, Any]:
    return {"processId": None, "rootUri": None, "capabilities": json.loads(path.read_text())["capabilities"]}


PARAMS: list[tuple[str, dict[str, Any]]] = [(path.stem, client_params(path)) for path in CLIENTS]
PARAMS += [("no capabilities", {"processId": None, "rootUri": None, "capabilities": {}})]
PARAMS += [
    (
        f"positionEncodings {value}",
        {"processId": 1, "capabilities": {"general": {"positionEncodings": value}}},
    )
    for value in ENCODINGS
]


def test_the_answer_file_is_what_the_features_give() -> None:
    assert ANSWER_FILE.read_text(encoding="utf-8") == generated_source(), (
        "the features changed: python -m carryover.lsp.early --write"
    )


@pytest.mark.parametrize("params", [p for _, p in PARAMS], ids=[name for name, _ in PARAMS])
def test_the_early_answer_is_pyglss_answer(params: dict[str, Any]) -> None:
    assert early_result(params) == pygls_result(create_server(), params)


def test_params_pygls_must_judge_are_not_answered_early() -> None:
    assert early_result(None) is None
    assert early_result({"capabilities": None}) is None
    assert early_result([]) is None


def test_nothing_heavy_is_imported_before_the_answer() -> None:
    script = (
        "import sys\n"
        "import carryover.cli, carryover.lsp.main, carryover.lsp.early, carryover.lsp.initialize_answer\n"
        "from carryover.lsp.early import early_result\n"
        "early_result({'capabilities': {}})\n"
        "tops = {name.split('.')[0] for name in sys.modules}\n"
        "print(sorted(tops & {'pygls', 'lsprotocol', 'lancedb', 'pyarrow', 'numpy', 'cattrs_extras'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def start(command: list[str], root: Path) -> RawClient:
    env = {**os.environ, "CARRYOVER_HOME": str(root / "home")}
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=root
    )
    return RawClient(process)


def stderr_of(client: RawClient) -> str:
    client.close()
    assert client.process.stderr is not None
    return client.process.stderr.read().decode("utf-8", "replace")


@pytest.mark.parametrize("path", CLIENTS, ids=[path.stem for path in CLIENTS])
def test_carryover_serve_answers_every_client_as_pygls_would(tmp_path: Path, path: Path) -> None:
    params = {
        **client_params(path),
        "rootUri": tmp_path.as_uri(),
        "initializationOptions": {"capture": False},
    }
    command = [
        sys.executable,
        "-m",
        "carryover",
        "--db",
        str(tmp_path / "pool"),
        "serve",
        "--log-level",
        "debug",
    ]
    client = start(command, tmp_path)
    request_id = client.request("initialize", params)
    answer = client.wait_for(lambda m: m.get("id") == request_id)
    client.send({"method": "initialized", "params": {}})
    status = client.wait_for(
        lambda m: m.get("method") == "carryover/status" and m["params"]["state"] == "ready"
    )
    assert status["params"]["memories"] == 0
    stderr = stderr_of(client)
    assert answer["result"] == pygls_result(create_server(), params)
    assert "initialize answered before the server was imported" in stderr
    assert "differs from pygls' own" not in stderr
    assert "Traceback" not in stderr


GATED = """
import sys, time
from pathlib import Path
from carryover.lsp.early import serve_stdio_early
from carryover.lsp.main import configure_logging

gate = Path(sys.argv[1])

def make_server():
    while not gate.exists():
        time.sleep(0.01)
    from carryover.lsp.app import ServerOptions, create_server
    return create_server(ServerOptions(db=Path(sys.argv[2])))

configure_logging("info")
serve_stdio_early(make_server)
"""


def test_messages_sent_before_the_server_exists_are_served_in_order(tmp_path: Path) -> None:
    """The answer comes while the server cannot exist yet (its factory waits for a file); what the
    client sends meanwhile (initialized, didOpen, a hover) is served once it does."""
    env_root = tmp_path
    pool = tmp_path / "pool"
    imported = subprocess.run(
        [sys.executable, "-m", "carryover", "--db", str(pool), "import", str(EXAMPLES)],
        env={**os.environ, "CARRYOVER_HOME": str(env_root / "home")},
        capture_output=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    gate = tmp_path / "gate"
    client = start([sys.executable, "-c", GATED, str(gate), str(pool)], env_root)
    params = {
        **client_params(CLIENTS[-1]),
        "rootUri": tmp_path.as_uri(),
        "initializationOptions": {"capture": False},
    }
    request_id = client.request("initialize", params)
    answer = client.wait_for(lambda m: m.get("id") == request_id, 60)
    assert not gate.exists() and answer["result"]["capabilities"]["hoverProvider"] is True
    client.send({"method": "initialized", "params": {}})
    uri = (tmp_path / "a.py").as_uri()
    text = "items = lookup(key)\nname = items[0].name\n"
    client.send(
        {
            "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
        }
    )
    hover_id = client.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}}
    )
    time.sleep(0.3)
    assert client.messages.empty()  # nothing can answer yet
    gate.touch()
    ready = client.wait_for(
        lambda m: m.get("method") == "carryover/status" and m["params"]["state"] == "ready", 120
    )
    assert ready["params"]["memories"] == 8
    hover = client.wait_for(lambda m: m.get("id") == hover_id, 60)
    assert "error" not in hover  # the document was open when the hover came: answered (maybe with nothing)
    search_id = client.request(
        "workspace/executeCommand", {"command": "carryover.search", "arguments": [{"query": "undefined map"}]}
    )
    found = client.wait_for(lambda m: m.get("id") == search_id, 60)
    assert found["result"]["hits"]
    stderr = stderr_of(client)
    assert "differs from pygls' own" not in stderr and "Traceback" not in stderr

"""The judge through the language server (pytest-lsp, a real server process, a real chat server on
127.0.0.1): a diagnostic arrives → the judge is asked once, in the background → until it answers the
hover shows the offline order, then the judged order and its plan; later hovers and the same
diagnostic again make no request."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.test_judge import PLAN, JudgeServer, answer, lesson_ids
from tests.test_server_support import (
    client_config,
    hover,
    hover_text,
    initialize_params,
    open_document,
    seeded_pool,
    server_env,
    start_client,
    wait_ready,
)

in_module_loop = pytest.mark.asyncio(loop_scope="module")
NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
DIAGNOSTIC = "TypeError: 'NoneType' object is not subscriptable"
DOCUMENT = "def load(config):\n    value = config.get('key')['inner']\n    return value\n"


@pytest.fixture(scope="module")
def chat() -> Iterator[JudgeServer]:
    server = JudgeServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(
    tmp_path_factory: pytest.TempPathFactory, chat: JudgeServer
) -> AsyncIterator[tuple[LanguageClient, Path]]:
    root = tmp_path_factory.mktemp("judge-lsp")
    pool = seeded_pool(root)
    workspace = root / "ws"
    workspace.mkdir()
    base = client_config(pool)
    config = ClientServerConfig(
        server_command=base.server_command, server_env=server_env(root / "home", **NO_PROXY)
    )
    client, _ = await start_client(config)
    options = {
        "surfaces": {"codeLens": False, "diagnostics": False},
        "judge": {"enabled": True, "endpoint": chat.url, "model": "judge-test", "timeoutMs": 8000},
    }
    await client.initialize_session(initialize_params(workspace, options))
    await wait_ready(client)
    yield client, workspace
    await client.shutdown_session()
    await client.stop()


def shown_ids(text: str) -> list[str]:
    return re.findall(r"`(mem_[0-9a-f]+)`", text)


async def until(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def forward(client: LanguageClient, uri: str) -> None:
    client.protocol.notify(
        "carryover/diagnostics",
        {
            "uri": uri,
            "source": "mypy",
            "diagnostics": [
                {
                    "range": {"start": {"line": 1, "character": 12}, "end": {"line": 1, "character": 30}},
                    "message": DIAGNOSTIC,
                    "severity": 1,
                }
            ],
        },
    )


@in_module_loop
async def test_a_diagnostic_is_judged_once_in_the_background_and_a_later_hover_shows_it(
    session: tuple[LanguageClient, Path], chat: JudgeServer
) -> None:
    client, workspace = session
    chat.answer = lambda sent: answer([sent[2], sent[0]])
    chat.delay_next(1, seconds=2.0)  # the judge is slow: the hover must not wait for it
    uri = open_document(client, workspace / "load.py", DOCUMENT, "python")
    forward(client, uri)
    await until(lambda: len(chat.chat_requests) == 1)
    sent = lesson_ids(chat.chat_requests[0].body)
    assert len(sent) >= 3
    offline = hover_text(await hover(client, uri, 1))  # while the judge is still thinking
    assert shown_ids(offline) == sent[:3] and "Plan (" not in offline

    async def judged() -> str:
        return hover_text(await hover(client, uri, 1))

    deadline = asyncio.get_running_loop().time() + 15
    text = await judged()
    while shown_ids(text) != [sent[2], sent[0]] and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        text = await judged()
    assert shown_ids(text) == [sent[2], sent[0]], text  # reordered, sent[1] dropped
    assert f"Plan (judge-test):* {PLAN}" in text
    assert "kept by the judge" in text
    assert len(chat.chat_requests) == 1

    await hover(client, uri, 1)
    forward(client, uri)  # the same diagnostic again: the same moment and candidates, cached
    await asyncio.sleep(1.0)
    assert shown_ids(await judged()) == [sent[2], sent[0]]
    assert len(chat.chat_requests) == 1

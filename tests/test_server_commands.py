"""The language server end to end: code actions, inline suggestions (code lens, inlay hints, hint
diagnostics) and every command with its effect. One seeded pool and one server for the module,
started with a fake distiller (tests/test_server_support.py:RecordingDistiller)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import TypeAlias

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.test_server_support import (
    GUARD,
    INJECTION,
    LOOKUP,
    SHELL,
    Window,
    command,
    eventually,
    hover,
    hover_text,
    open_document,
    server_window,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


Session = Window


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Session]:
    root = tmp_path_factory.mktemp("commands")
    distiller = "tests.test_server_support:RecordingDistiller"
    # the inline surfaces' mechanics, not their calibration: a lower bar than the default 0.5
    options = {"carryover": {"strongThreshold": 0.25}}
    async with server_window(root, "--distiller", distiller, options=options) as window:
        yield window


def code_actions(
    client: LanguageClient, uri: str, line: int, diagnostics: list[lsp.Diagnostic]
) -> Awaitable[Sequence[lsp.Command | lsp.CodeAction] | None]:
    return client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=lsp.Range(
                start=lsp.Position(line=line, character=0), end=lsp.Position(line=line, character=0)
            ),
            context=lsp.CodeActionContext(diagnostics=diagnostics),
        )
    )


def titled(actions: Sequence[lsp.Command | lsp.CodeAction] | None, prefix: str) -> list[lsp.CodeAction]:
    return [a for a in actions or [] if isinstance(a, lsp.CodeAction) and a.title.startswith(prefix)]


Progress: TypeAlias = lsp.WorkDoneProgressBegin | lsp.WorkDoneProgressReport | lsp.WorkDoneProgressEnd


def progress_reports(client: LanguageClient) -> dict[lsp.ProgressToken, list[Progress]]:
    """The work-done progress the client received, by token. pytest-lsp keeps the structured values
    (begin, report, end) in ``progress_reports`` though it annotates them as ``ProgressParams``."""
    reports: dict[lsp.ProgressToken, list[Progress]] = {}
    for token, values in client.progress_reports.items():
        reports[token] = []
        for value in values:
            assert isinstance(
                value, (lsp.WorkDoneProgressBegin, lsp.WorkDoneProgressReport, lsp.WorkDoneProgressEnd)
            ), value
            reports[token].append(value)
    return reports


async def memory_id(client: LanguageClient, title: str) -> str:
    found = await command(client, "carryover.search", {"query": title, "k": 1})
    assert found["hits"][0]["title"] == title
    return str(found["hits"][0]["id"])


async def test_quick_fix_on_a_diagnostic_inserts_the_guard(session: Session) -> None:
    client = session.client
    uri = open_document(client, session.workspace / "load.py", LOOKUP, "python")
    diagnostic = lsp.Diagnostic(
        range=lsp.Range(start=lsp.Position(line=1, character=12), end=lsp.Position(line=1, character=30)),
        message="TypeError: 'NoneType' object is not subscriptable",
        severity=lsp.DiagnosticSeverity.Error,
        source="python",
    )
    actions = await code_actions(client, uri, 1, [diagnostic])
    fix = titled(actions, f"Carryover: {GUARD}")[0]
    assert fix.kind == lsp.CodeActionKind.QuickFix
    assert list(fix.diagnostics or []) == [diagnostic]
    assert fix.edit is not None and fix.edit.changes is not None
    (edit,) = fix.edit.changes[uri]
    assert edit.range.start == lsp.Position(line=1, character=0)
    assert edit.new_text.startswith(f"    # Carryover: {GUARD} (A lookup that can miss")
    for label, name in (
        ("Pin this memory", "carryover.pin"),
        ("Reject this memory", "carryover.reject"),
        ("Why this suggestion?", "carryover.why"),
    ):
        matching = [a for a in titled(actions, label) if GUARD[:20] in a.title]
        assert len(matching) == 1, [a.title for a in actions or []]
        action = matching[0]
        assert action.command is not None and action.command.command == name
        assert action.command.arguments is not None
        argument = action.command.arguments[0]
        assert isinstance(argument, dict) and argument["memoryId"].startswith("mem_")


async def test_a_rejection_from_a_code_action_teaches_the_ranking(session: Session) -> None:
    client = session.client
    uri = open_document(client, session.workspace / "taught.py", LOOKUP, "python")
    diagnostic = lsp.Diagnostic(
        range=lsp.Range(start=lsp.Position(line=1, character=12), end=lsp.Position(line=1, character=30)),
        message="TypeError: 'NoneType' object is not subscriptable",
        severity=lsp.DiagnosticSeverity.Error,
        source="python",
    )
    actions = await code_actions(client, uri, 1, [diagnostic])
    (reject,) = [a for a in titled(actions, "Reject this memory") if GUARD[:20] in a.title]
    assert reject.command is not None and reject.command.arguments is not None
    argument = reject.command.arguments[0]
    assert isinstance(argument, dict)
    assert argument["uri"] == uri and argument["line"] == 1
    learned = session.pool / "ranker-feedback.json"
    assert (session.pool / "pool.json").exists() and not learned.exists()
    try:
        rejected = await command(client, "carryover.reject", {**argument, "reason": "Outdated"})
        assert rejected["rejected"] is True
        saved = json.loads(learned.read_text(encoding="utf-8"))
        assert saved["events"] == 1 and any(value != 0.0 for value in saved["delta"])
        # a pin with no place it was shown (the views, the CLI) changes the status and teaches nothing
        await command(client, "carryover.restore", {"memoryId": argument["memoryId"]})
        await command(client, "carryover.pin", {"memoryId": argument["memoryId"]})
        assert json.loads(learned.read_text(encoding="utf-8"))["events"] == 1
    finally:
        learned.unlink(missing_ok=True)
        await command(client, "carryover.restore", {"memoryId": argument["memoryId"]})


async def test_why_from_a_code_action_ranks_the_moment_it_was_shown_at(session: Session) -> None:
    client = session.client
    uri = open_document(client, session.workspace / "asked.py", LOOKUP, "python")
    diagnostic = lsp.Diagnostic(
        range=lsp.Range(start=lsp.Position(line=1, character=12), end=lsp.Position(line=1, character=30)),
        message="TypeError: 'NoneType' object is not subscriptable",
        severity=lsp.DiagnosticSeverity.Error,
        source="python",
    )
    actions = await code_actions(client, uri, 1, [diagnostic])
    (asked,) = [a for a in titled(actions, "Why this suggestion?") if GUARD[:20] in a.title]
    assert asked.command is not None and asked.command.arguments is not None
    argument = asked.command.arguments[0]
    assert isinstance(argument, dict)
    assert argument["uri"] == uri and argument["line"] == 1 and argument["diagnostic"] == diagnostic.message
    why = await command(client, "carryover.why", argument)
    assert why["shown"] is True and why["rank"] == 1 and why["candidates"] >= 2
    assert 0.0 < why["score"] <= 1.0
    assert "ranked 1 of" in why["explanation"] and "transferred from rust" in why["explanation"]
    # the same memory asked about on a plain line: ranked, but the hover would not speak there
    plain = await command(client, "carryover.why", {"memoryId": argument["memoryId"], "uri": uri, "line": 0})
    assert plain["shown"] is False and "stays quiet" in plain["explanation"]


async def test_run_validation_is_returned_not_run(session: Session) -> None:
    client = session.client
    uri = open_document(client, session.workspace / "lib.rs", "fn parse() -> u32 {\n    1\n}\n", "rust")
    client.protocol.notify(
        "carryover/terminalEnded",
        {
            "command": "cargo test",
            "cwd": str(session.workspace),
            "exitCode": 101,
            "outputTail": "test failed",
        },
    )
    await asyncio.sleep(0.2)
    actions = await code_actions(client, uri, 1, [])
    (run,) = titled(actions, "Run validation: cargo test")
    assert run.command is not None and run.command.command == "carryover.runValidation"
    assert run.command.arguments is not None
    argument = run.command.arguments[0]
    assert isinstance(argument, dict)
    assert argument["command"] == "cargo test" and argument["cwd"] == str(session.workspace)
    (opener,) = titled(actions, "Carryover: Fix a failing cargo test")
    assert opener.command is not None and opener.command.command == "carryover.show"
    client.protocol.notify(
        "carryover/terminalEnded", {"command": "cargo test", "cwd": str(session.workspace), "exitCode": 0}
    )


async def test_inline_suggestions_lens_hint_and_hint_diagnostic(session: Session) -> None:
    client = session.client
    path = session.workspace / "clean.py"
    uri = open_document(client, path, SHELL, "python")
    diagnostics = await eventually(lambda: client.diagnostics.get(uri))
    (hint,) = diagnostics
    assert hint.severity == lsp.DiagnosticSeverity.Hint and hint.source == "carryover"
    assert INJECTION in hint.message and hint.range.start.line == 5
    lenses = await client.text_document_code_lens_async(
        lsp.CodeLensParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    assert lenses is not None
    (lens,) = lenses
    assert lens.range.start.line == 3  # above the function
    assert (
        lens.command is not None
        and INJECTION in lens.command.title
        and "learned in Python" in lens.command.title
    )
    hints_params = lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=6, character=0)),
    )
    assert await client.text_document_inlay_hint_async(hints_params) is None  # off by default
    client.workspace_did_change_configuration(
        lsp.DidChangeConfigurationParams(settings={"carryover": {"surfaces": {"inlayHints": True}}})
    )
    await asyncio.sleep(0.3)
    found = await client.text_document_inlay_hint_async(hints_params)
    assert found is not None and len(found) == 1 and found[0].position.line == 5
    # the quick fix on our own hint diagnostic
    actions = await code_actions(client, uri, 5, [hint])
    fix = titled(actions, f"Carryover: {INJECTION}")[0]
    assert fix.edit is not None and fix.edit.changes is not None
    assert fix.edit.changes[uri][0].new_text.startswith("    # Carryover: Never build shell")
    # switching the lens and diagnostics off clears them
    client.workspace_did_change_configuration(
        lsp.DidChangeConfigurationParams(
            settings={
                "carryover": {"surfaces": {"codeLens": False, "diagnostics": False, "inlayHints": False}}
            }
        )
    )
    await eventually(lambda: len(client.diagnostics[uri]) == 0)
    assert (
        await client.text_document_code_lens_async(
            lsp.CodeLensParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )
        is None
    )
    client.workspace_did_change_configuration(
        lsp.DidChangeConfigurationParams(
            settings={"carryover": {"surfaces": {"codeLens": True, "diagnostics": True}}}
        )
    )
    await eventually(lambda: client.diagnostics.get(uri))
    # typing (debounced): the hint goes when the shell call goes, comes back with it
    for version, text in enumerate((SHELL.replace("os.system(target)", "pass"), SHELL), start=2):
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        expected = text == SHELL

        def shown(expected: bool = expected) -> bool:
            return bool(client.diagnostics[uri]) == expected

        await eventually(shown)


async def test_search_show_and_why(session: Session) -> None:
    client = session.client
    found = await command(
        client,
        "carryover.search",
        {"query": "TypeError: 'NoneType' object is not subscriptable", "language": "python"},
    )
    assert found["hits"][0]["title"] == GUARD
    assert {"id", "score", "why", "kind", "languages"} <= set(found["hits"][0])
    shown = await command(client, "carryover.show", {"memoryId": found["hits"][0]["id"][:12], "reveal": True})
    assert shown["memory"]["title"] == GUARD and shown["markdown"].startswith(f"# {GUARD}")
    assert any(GUARD in message.message for message in client.messages)
    why = await command(
        client,
        "carryover.why",
        {
            "memoryId": found["hits"][0]["id"],
            "query": "a value that may be absent is indexed",
            "language": "python",
        },
    )
    assert (
        why["explanation"].startswith("why this: similarity")
        and "transferred from rust" in why["explanation"]
    )


async def test_pin_makes_the_why_line_say_pinned(session: Session) -> None:
    client = session.client
    uri = open_document(client, session.workspace / "load.py", LOOKUP, "python")
    assert "pinned" not in hover_text(await hover(client, uri, 1))
    pinned = await command(client, "carryover.pin", {"memoryId": await memory_id(client, GUARD)})
    assert pinned["status"] == "pinned"
    text = hover_text(await hover(client, uri, 1))
    assert GUARD in text and "· pinned ·" in text
    restored = await command(client, "carryover.restore", {"memoryId": pinned["id"]})
    assert restored["status"] == "active"


async def test_reject_with_a_reason_hides_the_memory(session: Session) -> None:
    client = session.client
    uri = open_document(client, session.workspace / "clean2.py", SHELL, "python")
    assert INJECTION in hover_text(await hover(client, uri, 5))
    target = await memory_id(client, INJECTION)
    session.recorder.answer = None  # the user dismisses the question: nothing happens
    kept = await command(client, "carryover.reject", {"memoryId": target})
    assert kept["rejected"] is False and kept["status"] == "active"
    session.recorder.answer = 1  # "Outdated"
    rejected = await command(client, "carryover.reject", {"memoryId": target})
    assert rejected["rejected"] is True and rejected["reject_reason"] == "Outdated"
    assert session.recorder.message_requests[-1].actions is not None
    assert INJECTION not in hover_text(await hover(client, uri, 5))
    await eventually(  # its inline hint went too (another memory may now be the strongest there)
        lambda: not [hint for hint in client.diagnostics.get(uri, []) if target in str(hint.data)]
    )
    again = await command(client, "carryover.reject", {"memoryId": target, "reason": "wrong for us"})
    assert again["reject_reason"] == "wrong for us"
    await command(client, "carryover.restore", {"memoryId": target})
    assert INJECTION in hover_text(await hover(client, uri, 5))


async def test_forget_deletes_for_good(session: Session) -> None:
    client = session.client
    target = await memory_id(client, "Pin the dependency version that was tested")
    assert (await command(client, "carryover.forget", {"memoryId": target})) == {
        "id": target,
        "forgotten": True,
    }
    with pytest.raises(JsonRpcException) as error:
        await command(client, "carryover.show", {"memoryId": target})
    assert error.value.code == -32602
    found = await command(client, "carryover.search", {"query": "Pin the dependency version that was tested"})
    assert target not in [hit["id"] for hit in found["hits"]]


async def test_export_writes_the_import_format(session: Session) -> None:
    target = session.workspace / "out.jsonl"
    result = await command(session.client, "carryover.export", {"path": "out.jsonl", "kind": "insight"})
    lines = target.read_text(encoding="utf-8").splitlines()
    assert result == {"path": str(target), "count": len(lines)}
    assert lines and all(json.loads(line)["kind"] == "insight" for line in lines)
    with pytest.raises(JsonRpcException):
        await command(session.client, "carryover.export", {"path": "missing/x.jsonl"})


async def test_distill_now_reports_progress(session: Session) -> None:
    client = session.client
    result = await command(client, "carryover.distill")
    assert result["distilled"] is True
    assert (result["episodes"], result["added"], result["merged"]) == (2, 1, 0)
    assert result["message"].startswith("distilled 2 of 2 episode(s)")
    await eventually(
        lambda: any(reports and reports[-1].kind == "end" for reports in progress_reports(client).values())
    )
    (reports,) = [
        r for token, r in progress_reports(client).items() if str(token).startswith("carryover-distill")
    ]
    assert [report.kind for report in reports] == ["begin", "report", "report", "end"]
    reading, writing = reports[1], reports[2]
    assert isinstance(reading, lsp.WorkDoneProgressReport) and isinstance(writing, lsp.WorkDoneProgressReport)
    assert (reading.message, reading.percentage) == ("reading episodes", 0)
    assert (writing.message, writing.percentage) == ("writing memories", 100)
    found = await command(client, "carryover.search", {"query": "flaky network call", "k": 1})
    assert found["hits"][0]["title"] == "Retry flaky network calls with a deadline"

"""DocumentTracker (diffs per save, diagnostics before and after) and terminal output bounding."""

from __future__ import annotations

from datetime import datetime

from lsprotocol import types as lsp

from carryover.pipeline.capture.documents import DocumentTracker, apply_changes, bounded_diff
from carryover.pipeline.capture.filters import is_secret_path
from carryover.pipeline.capture.sink import event_to_row, row_payload
from carryover.pipeline.capture.terminal import OutputBuffer, bound_output, decode, terminal_event
from carryover.pipeline.events import (
    DiagnosticsChanged,
    DocumentClosed,
    DocumentOpened,
    DocumentSaved,
)
from carryover.vocabulary import output

WS = "/home/dev/app"
URI = f"file://{WS}/src/main.py"


def clock() -> datetime:
    return datetime(2026, 3, 1, 12, 0, 0)


def tracker() -> DocumentTracker:
    return DocumentTracker([WS], exclude=is_secret_path, clock=clock)


def test_keystrokes_make_no_events_and_a_save_makes_one_diff() -> None:
    docs = tracker()
    (opened,) = docs.open(URI, "python", 1, "def f(x):\n    return x\n")
    assert isinstance(opened.payload, DocumentOpened)
    assert (
        opened.type == "document.opened" and opened.workspace == WS and opened.payload.path == "src/main.py"
    )
    for version, char in enumerate("  # ok", start=2):
        assert (
            docs.change(
                URI, version, [{"range": _range(1, 12 + version - 2, 1, 12 + version - 2), "text": char}]
            )
            == []
        )
    (saved,) = docs.save(URI)
    assert saved.type == "document.saved" and isinstance(saved.payload, DocumentSaved)
    assert saved.payload.diff.splitlines()[:2] == ["--- a/src/main.py", "+++ b/src/main.py"]
    assert (
        "+    return x  # ok" in saved.payload.diff
        and saved.payload.added == 1
        and saved.payload.removed == 1
    )
    assert docs.save(URI) == []  # nothing changed since the last save
    (closed,) = docs.close(URI)
    assert isinstance(closed.payload, DocumentClosed)
    assert closed.payload.unsaved_changes is False


def _range(sl: int, sc: int, el: int, ec: int) -> dict[str, dict[str, int]]:
    return {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}


def test_lsprotocol_changes_and_utf16_positions() -> None:
    text = "emoji = '😀'\nx = 1\n"
    change = lsp.TextDocumentContentChangePartial(
        range=lsp.Range(start=lsp.Position(line=0, character=11), end=lsp.Position(line=0, character=11)),
        text="!",
    )
    # 😀 is two UTF-16 code units: character 11 is after the emoji, before the closing quote.
    assert apply_changes(text, [change]) == "emoji = '😀!'\nx = 1\n"
    assert apply_changes(text, [lsp.TextDocumentContentChangeWholeDocument(text="new")]) == "new"
    assert apply_changes("a\nb\n", [{"range": _range(1, 0, 2, 0), "text": ""}]) == "a\n"


def test_a_save_from_the_tracker_has_line_counts_and_a_bounded_diff() -> None:
    """A save that rewrites a long document: the counts are of every changed line, the diff is cut
    to the shared limits, says it was cut, and survives the codec unchanged."""
    docs = tracker()
    old = "".join(f"value_{n} = {n}\n" for n in range(1000))
    docs.open(URI, "python", 1, old)
    docs.change(URI, 2, [{"text": old.replace(" = ", " == ")}])
    (saved,) = docs.save(URI)
    payload = saved.payload
    assert isinstance(payload, DocumentSaved)
    assert payload.added == 1000 and payload.removed == 1000
    assert payload.diff_truncated and not payload.diff_withheld
    assert len(payload.diff) <= output.DIFF_CHARS + 100
    assert len(payload.diff.splitlines()) <= output.DIFF_LINES + 1
    assert payload.diff.startswith("--- a/src/main.py\n+++ b/src/main.py\n")
    assert payload.diff.endswith("more lines\n")
    row = event_to_row(saved, "evt_save")
    assert row_payload(row) == payload and row.type == "document.saved"


def test_diffs_are_bounded() -> None:
    old = "".join(f"line {n}\n" for n in range(2000))
    new = "".join(f"line {n} changed\n" for n in range(2000))
    diff, added, removed, truncated = bounded_diff(old, new, "big.txt", max_lines=50, max_chars=4000)
    assert truncated and len(diff.splitlines()) <= 51 and len(diff) <= 4100
    assert added == removed == 2000 and diff.endswith("more lines\n")


def test_secret_files_keep_their_diff_out() -> None:
    docs = tracker()
    uri = f"file://{WS}/.env"
    docs.open(uri, "dotenv", 1, "A=1\n")
    docs.change(uri, 2, [{"text": "A=1\nTOKEN=s3cr3t-value\n"}])
    (saved,) = docs.save(uri)
    assert isinstance(saved.payload, DocumentSaved)
    assert saved.payload.diff == "" and saved.payload.diff_withheld is True
    assert saved.payload.added == saved.payload.removed == 0
    assert "s3cr3t" not in str(saved.payload)


def test_diagnostics_before_and_after_a_save() -> None:
    docs = tracker()
    docs.open(URI, "python", 1, "x: int = 'a'\n")
    error = lsp.Diagnostic(
        range=lsp.Range(start=lsp.Position(line=0, character=9), end=lsp.Position(line=0, character=12)),
        message='Incompatible types in assignment (expression has type "str", variable has type "int")',
        severity=lsp.DiagnosticSeverity.Error,
        code="assignment",
        source="mypy",
    )
    (first,) = docs.diagnostics(URI, [error], source="mypy")
    assert isinstance(first.payload, DiagnosticsChanged)
    assert first.payload.errors == 1 and first.payload.after_save is False
    assert first.payload.diagnostics[0].code == "assignment"
    assert docs.diagnostics(URI, [error], source="mypy") == []  # the same publication again: no event
    docs.change(URI, 2, [{"text": "x: int = 1\n"}])
    (saved,) = docs.save(URI)
    assert isinstance(saved.payload, DocumentSaved)
    assert saved.payload.diagnostics_before[0].message.startswith("Incompatible types")
    (after,) = docs.diagnostics(URI, [], source="mypy")
    assert isinstance(after.payload, DiagnosticsChanged)
    assert after.payload.after_save is True and after.payload.errors == 0


def test_terminal_output_is_decoded_and_bounded() -> None:
    raw = b"\x1b[31mFAILED\x1b[0m caf\xc3\xa9 \xff\xfe broken\r\nprogress 10%\rprogress 100%\n"
    text = decode(raw)
    assert text == "FAILED café \ufffd\ufffd broken\nprogress 100%\n"
    assert decode(b"\x00\x01\x02ELF binary") == "[binary output: 13 bytes]"
    big = b"".join(b"line %d\n" % n for n in range(100_000))
    head, tail, truncated = bound_output(big, head_chars=200, tail_chars=300)
    assert truncated and head.startswith("line 0\n") and tail.endswith("line 99999\n")
    assert len(head) <= 200 and len(tail) <= 300
    assert bound_output("short") == ("short", "", False)


def test_streamed_output_keeps_head_and_tail_across_split_utf8() -> None:
    buffer = OutputBuffer(head_chars=50, tail_chars=50)
    data = ("é" * 10 + "\n").encode() * 500
    for start in range(0, len(data), 7):  # chunks cut inside two-byte characters
        buffer.feed(data[start : start + 7])
    head, tail, truncated = buffer.result()
    assert truncated and head.startswith("éééé") and tail.endswith("é\n") and "\ufffd" not in head + tail
    event = terminal_event("pytest", "/home/dev/app", 1, buffer, workspace=WS)
    assert event.type == "terminal.ended" and event.payload.output_truncated is True
    assert event.payload.exit_code == 1 and event.payload.started_at == event.payload.ended_at


def test_terminal_event_takes_a_head_and_tail_from_the_editor() -> None:
    event = terminal_event(
        "npm test",
        WS,
        None,
        output_head="\x1b[1mRUNS\x1b[22m",
        output_tail=b"Tests: 1 failed\n",
        workspace=WS,
        terminal_id="t1",
        execution_id="e1",
    )
    payload = event.payload
    assert payload.output_head == "RUNS" and payload.output_tail == "Tests: 1 failed\n"
    assert payload.exit_code is None and payload.terminal_id == "t1" and payload.execution_id == "e1"

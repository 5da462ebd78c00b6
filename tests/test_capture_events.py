"""The one codec of event payloads: every type round-trips; what cannot be read is an error."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from carryover.pipeline.capture.sink import event_to_row, row_payload
from carryover.pipeline.events import (
    EVENT_TYPES,
    PAYLOAD_CLASSES,
    CapturedEvent,
    Diagnostic,
    DiagnosticsChanged,
    DocumentClosed,
    DocumentOpened,
    DocumentSaved,
    EventPayload,
    FileChanged,
    MalformedEvent,
    Position,
    Range,
    ShellCommand,
    TerminalEnded,
    TerminalStarted,
    decode,
    encode,
)

T = datetime(2026, 3, 1, 12, 30, 5, 250000)
ERROR = Diagnostic(Range(Position(3, 4), Position(3, 9)), 1, "E0308", "rustc", "mismatched types: «é»")

EXAMPLES: list[EventPayload] = [
    DocumentOpened("file:///w/src/a.tsx", "src/a.tsx", "typescriptreact", 1),
    DocumentSaved(
        "file:///w/src/a.tsx",
        "src/a.tsx",
        "typescriptreact",
        7,
        "--- a\n+++ b\n+x\n",
        1,
        0,
        True,
        False,
        (ERROR,),
    ),
    DocumentClosed("file:///w/src/a.tsx", "src/a.tsx", "typescriptreact", None, True),
    DiagnosticsChanged("file:///w/src/main.rs", "src/main.rs", "rust-analyzer", (ERROR, ERROR), 2, 0, True),
    TerminalStarted("cargo test", "/w", "7", "x1"),
    TerminalEnded("cargo test", "/w", "7", "x1", 101, T, T.replace(second=9), "head", "tail", True),
    TerminalEnded("sleep 1", "/w", "", "", None, T, T, "", "", False),
    FileChanged("src/new.rs", "moved", from_path="src/old.rs"),
    FileChanged("", "bulk", count=400, paths=("a", "b")),
    ShellCommand("make", "/w", 2, "zsh", started_at=T, ended_at=T.replace(minute=31)),
    ShellCommand("ls", "/w", None, ""),
]


def test_every_event_type_has_a_payload_class_and_an_example() -> None:
    assert set(PAYLOAD_CLASSES) == set(EVENT_TYPES)
    assert {payload.TYPE for payload in EXAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("payload", EXAMPLES, ids=lambda payload: f"{payload.TYPE}:{payload!r}"[:60])
def test_every_payload_round_trips_through_the_codec(payload: EventPayload) -> None:
    text = encode(payload)
    assert decode(payload.TYPE, text) == payload
    assert json.loads(text) == json.loads(encode(decode(payload.TYPE, text)))  # stable
    event = CapturedEvent("/w", "editor", payload, T)
    row = event_to_row(event, "evt_1")
    assert row.type == payload.TYPE and row_payload(row) == payload


def test_the_stored_keys_are_the_documented_ones() -> None:
    moved = json.loads(encode(FileChanged("b", "moved", from_path="a")))
    assert moved["from"] == "a" and "from_path" not in moved
    ended = json.loads(encode(EXAMPLES[5]))
    assert ended["started_at"] == "2026-03-01T12:30:05.250000" and ended["exit_code"] == 101


@pytest.mark.parametrize(
    ("event_type", "text", "says"),
    [
        ("document.renamed", "{}", "unknown event type"),
        ("shell.command", "", "not JSON"),
        ("shell.command", "not json", "not JSON"),
        ("shell.command", "[1, 2]", "not an object"),
        ("shell.command", '"make"', "not an object"),
        ("shell.command", '{"cwd": "/w"}', "command"),
        ("shell.command", '{"command": "make", "exit_code": "2"}', "exit_code"),
        ("shell.command", '{"command": "make", "exit_code": true}', "exit_code"),
        ("terminal.ended", '{"command": "make", "ended_at": "yesterday"}', "ended_at"),
        ("document.saved", '{"uri": "file:///w/a", "added": "3"}', "added"),
        ("diagnostics.changed", '{"uri": "u", "diagnostics": "error"}', "diagnostics"),
        ("diagnostics.changed", '{"uri": "u", "diagnostics": [{"severity": "high"}]}', "severity"),
        ("file.changed_externally", '{"path": "a", "change": "renamed"}', "change"),
        ("file.changed_externally", '{"path": "a", "change": "bulk", "paths": "abc"}', "paths"),
    ],
)
def test_a_malformed_stored_payload_raises_a_clear_error(event_type: str, text: str, says: str) -> None:
    with pytest.raises(MalformedEvent, match=says) as raised:
        decode(event_type, text)
    assert raised.value.event_type == event_type


def test_rows_stored_before_typing_are_upgraded_from_what_they_hold() -> None:
    """The editor's first capture stored saves without a path or line counts, and diagnostics with a
    null severity and numeric codes: they read as typed payloads, filled from what they have."""
    saved = decode(
        "document.saved",
        json.dumps(
            {"uri": "file:///w/src/a.py", "language_id": "python", "version": 3, "diff": "+a\n+b\n-c\n"}
        ),
        workspace="/w",
    )
    assert isinstance(saved, DocumentSaved)
    assert (saved.path, saved.added, saved.removed, saved.diff_withheld) == ("src/a.py", 2, 1, False)
    diagnostics = decode(
        "diagnostics.changed",
        json.dumps(
            {
                "uri": "file:///w/a.py",
                "source": "mypy",
                "diagnostics": [{"severity": None, "code": 5, "message": "m"}],
            }
        ),
        workspace="/w",
    )
    assert isinstance(diagnostics, DiagnosticsChanged)
    assert diagnostics.errors == 1 and diagnostics.diagnostics[0].code == "5" and diagnostics.path == "a.py"
    ended = decode(
        "terminal.ended",
        json.dumps({"command": "make", "started_at": None, "ended_at": "2026-01-01T10:00:00"}),
    )
    assert isinstance(ended, TerminalEnded) and ended.started_at == ended.ended_at == datetime(2026, 1, 1, 10)


def test_an_event_takes_only_a_typed_payload() -> None:
    with pytest.raises(MalformedEvent, match="dict"):
        CapturedEvent("/w", "editor", {"command": "make"})  # type: ignore[type-var]

"""Typed events for tests: the fewest arguments that make a valid payload of each event type."""

from __future__ import annotations

from datetime import datetime

from carryover.pipeline.events import (
    CapturedEvent,
    Diagnostic,
    DiagnosticsChanged,
    DocumentSaved,
    Position,
    Range,
    ShellCommand,
    TerminalEnded,
    TerminalStarted,
)

T0 = datetime(2026, 1, 1, 9)


def diagnostic(
    message: str, code: str = "", source: str = "", severity: int = 1, line: int = 0
) -> Diagnostic:
    return Diagnostic(Range(Position(line, 0), Position(line, 5)), severity, code, source, message)


def ended(
    workspace: str, command: str, exit_code: int | None, when: datetime = T0, output: str = ""
) -> CapturedEvent[TerminalEnded]:
    payload = TerminalEnded(command, workspace, "1", "", exit_code, when, when, output, "", False)
    return CapturedEvent(workspace, "terminal", payload, when)


def started(workspace: str, command: str, when: datetime = T0) -> CapturedEvent[TerminalStarted]:
    return CapturedEvent(workspace, "terminal", TerminalStarted(command, workspace, "1", ""), when)


def shell(
    workspace: str, command: str, exit_code: int | None = 0, when: datetime | None = None
) -> CapturedEvent[ShellCommand]:
    payload = ShellCommand(command, workspace, exit_code, "bash")
    return (
        CapturedEvent(workspace, "shell-hook", payload)
        if when is None
        else CapturedEvent(workspace, "shell-hook", payload, when)
    )


def saved(workspace: str, path: str, when: datetime = T0, diff: str = "") -> CapturedEvent[DocumentSaved]:
    added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
    payload = DocumentSaved(f"file://{workspace}/{path}", path, "", 1, diff, added, removed, False, False, ())
    return CapturedEvent(workspace, "editor", payload, when)


def diagnostics(
    workspace: str,
    path: str,
    items: tuple[Diagnostic, ...],
    when: datetime = T0,
    *,
    after_save: bool = False,
    source: str = "editor",
) -> CapturedEvent[DiagnosticsChanged]:
    payload = DiagnosticsChanged(
        uri=f"file://{workspace}/{path}",
        path=path,
        source=source,
        diagnostics=items,
        errors=sum(1 for item in items if item.severity == 1),
        warnings=sum(1 for item in items if item.severity == 2),
        after_save=after_save,
    )
    return CapturedEvent(workspace, "editor", payload, when)

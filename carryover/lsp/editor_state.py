"""What the server remembers between requests (in memory only): the last failing terminal command
per workspace and the diagnostics other tools forwarded for each document."""

from __future__ import annotations

import time
from collections.abc import Sequence

import attrs
from lsprotocol import types as lsp

FAILING_COMMAND_TTL_S = 3600.0
"""A failing command stops being hover context after an hour (or when the same command passes)."""


@attrs.frozen
class TerminalRun:
    command: str
    cwd: str
    exit_code: int | None
    error_line: str | None
    output: str = ""
    """The bounded output of a failure (head and tail), for the hover's search."""
    ended: float = attrs.field(factory=time.monotonic)


class EditorState:
    def __init__(self) -> None:
        self._failing: dict[str, TerminalRun] = {}
        self._diagnostics: dict[str, dict[str, list[lsp.Diagnostic]]] = {}

    def terminal_ended(self, workspace: str, run: TerminalRun) -> None:
        """Remember a failure; a success of the same command clears it."""
        if run.exit_code is not None and run.exit_code != 0:
            self._failing[workspace] = run
            return
        last = self._failing.get(workspace)
        if last is not None and run.exit_code == 0 and last.command.strip() == run.command.strip():
            del self._failing[workspace]

    def failing_command(self, workspace: str, now: float | None = None) -> TerminalRun | None:
        run = self._failing.get(workspace)
        if run is None:
            return None
        if (now if now is not None else time.monotonic()) - run.ended > FAILING_COMMAND_TTL_S:
            del self._failing[workspace]
            return None
        return run

    def forward_diagnostics(self, uri: str, source: str, diagnostics: Sequence[lsp.Diagnostic]) -> None:
        by_source = self._diagnostics.setdefault(uri, {})
        if diagnostics:
            by_source[source] = list(diagnostics)
        else:
            by_source.pop(source, None)

    def diagnostics_on_line(self, uri: str, line: int) -> list[lsp.Diagnostic]:
        return [
            diagnostic
            for diagnostics in self._diagnostics.get(uri, {}).values()
            for diagnostic in diagnostics
            if diagnostic.range.start.line <= line <= diagnostic.range.end.line
        ]

    def forget_document(self, uri: str) -> None:
        self._diagnostics.pop(uri, None)

    def clear(self) -> None:
        self._failing.clear()
        self._diagnostics.clear()

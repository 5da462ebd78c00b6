"""What the editor's terminals and other tools report, handed to the one capture pipeline
(``LiveCapture``), plus the little the hover keeps of it (the last failing command per workspace,
other tools' diagnostics), announced to the features that act ahead of a hover
(``Change.RUN_FAILED``, ``Change.DIAGNOSTICS_ARRIVED``: this module is their one producer).

Custom notifications (documented in the README, "The language server"):
``carryover/terminalStarted``, ``carryover/terminalEnded``, ``carryover/diagnostics``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pygls.uris import to_fs_path

from carryover.lsp.announce import Change, Where
from carryover.lsp.editor_state import TerminalRun
from carryover.lsp.guard import guarded_sync
from carryover.lsp.wire import (
    DIAGNOSTICS,
    TERMINAL_ENDED,
    TERMINAL_STARTED,
    TerminalEndedParams,
    TerminalStartedParams,
    ToolDiagnosticsParams,
)
from carryover.vocabulary.output import error_line

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer


def terminal_ended(ls: CarryoverServer, params: TerminalEndedParams) -> None:
    output = ls.capture.terminal_ended(
        params.command,
        params.cwd,
        params.exit_code,
        output_head=params.output_head,
        output_tail=params.output_tail,
        terminal_id=params.terminal_id,
        execution_id=params.execution_id,
        started_at=params.started_at,
        ended_at=params.ended_at,
    )
    if output is None:  # an excluded folder
        return
    workspace = ls.workspace_of(params.cwd)
    ls.editor.terminal_ended(
        workspace,
        TerminalRun(
            command=params.command,
            cwd=params.cwd,
            exit_code=params.exit_code,
            error_line=error_line(output) if params.exit_code else None,
            output=output if params.exit_code else "",
        ),
    )
    if params.exit_code:
        ls.announcer.announce(Change.RUN_FAILED, Where(workspace=workspace))


def tool_diagnostics(ls: CarryoverServer, params: ToolDiagnosticsParams) -> None:
    path = to_fs_path(params.uri) or params.uri
    if ls.excluded(path):
        return
    ls.editor.forward_diagnostics(params.uri, params.source, params.diagnostics)
    ls.capture.diagnostics(params.uri, params.diagnostics, params.source)
    if params.diagnostics:
        lines = tuple(dict.fromkeys(diagnostic.range.start.line for diagnostic in params.diagnostics))
        ls.announcer.announce(Change.DIAGNOSTICS_ARRIVED, Where(uri=params.uri, lines=lines))


def register(server: CarryoverServer) -> None:
    @server.feature(TERMINAL_STARTED)
    @guarded_sync(TERMINAL_STARTED)
    def on_terminal_started(ls: CarryoverServer, params: TerminalStartedParams) -> None:
        ls.capture.terminal_started(params.command, params.cwd, params.terminal_id, params.execution_id)

    @server.feature(TERMINAL_ENDED)
    @guarded_sync(TERMINAL_ENDED)
    def on_terminal_ended(ls: CarryoverServer, params: TerminalEndedParams) -> None:
        terminal_ended(ls, params)

    @server.feature(DIAGNOSTICS)
    @guarded_sync(DIAGNOSTICS)
    def on_tool_diagnostics(ls: CarryoverServer, params: ToolDiagnosticsParams) -> None:
        tool_diagnostics(ls, params)

"""Everything Carryover adds to LSP on the wire: custom notifications and command arguments.

All are attrs classes; pygls' converter maps their snake_case fields to camelCase JSON
(``memory_id`` <-> ``memoryId``). A missing required field, a value of the wrong type (the protocol
types strings, numbers and booleans strictly) or a command argument that is not a JSON object is
answered with InvalidParams (-32602). Keys a command does not know are ignored.
"""

from __future__ import annotations

from typing import Any

import attrs
import cattrs
from lsprotocol import types as lsp

TERMINAL_STARTED = "carryover/terminalStarted"
TERMINAL_ENDED = "carryover/terminalEnded"
DIAGNOSTICS = "carryover/diagnostics"
STATUS = "carryover/status"  # server -> client

CMD_PIN = "carryover.pin"
CMD_REJECT = "carryover.reject"
CMD_RESTORE = "carryover.restore"
CMD_FORGET = "carryover.forget"
CMD_SEARCH = "carryover.search"
CMD_SHOW = "carryover.show"
CMD_WHY = "carryover.why"
CMD_DISTILL = "carryover.distill"
CMD_PAUSE = "carryover.pauseCapture"
CMD_RESUME = "carryover.resumeCapture"
CMD_EXPORT = "carryover.export"
CMD_LIST = "carryover.list"
CMD_SUGGEST = "carryover.suggest"
CMD_ACCEPT = "carryover.accept"
CMD_SHARE = "carryover.share"
CLIENT_RUN_VALIDATION = "carryover.runValidation"
"""Implemented by the client (never by the server): run a check command after the user confirms."""


# ----- notifications from the client ---------------------------------------------------------------


@attrs.define
class TerminalStartedParams:
    command: str
    cwd: str = ""
    terminal_id: str = ""
    execution_id: str = ""


@attrs.define
class TerminalEndedParams:
    command: str
    cwd: str = ""
    terminal_id: str = ""
    execution_id: str = ""
    exit_code: int | None = None
    started_at: str | None = None
    ended_at: str | None = None
    output_head: str = ""
    output_tail: str = ""
    output_truncated: bool = False


@attrs.define
class ToolDiagnosticsParams:
    uri: str
    diagnostics: list[lsp.Diagnostic]
    source: str = "editor"
    """Who forwards them: "editor" (all diagnostics the editor shows) or a tool's name."""


@attrs.define
class TerminalStartedNotification:
    params: TerminalStartedParams
    method: str = TERMINAL_STARTED
    jsonrpc: str = "2.0"


@attrs.define
class TerminalEndedNotification:
    params: TerminalEndedParams
    method: str = TERMINAL_ENDED
    jsonrpc: str = "2.0"


@attrs.define
class ToolDiagnosticsNotification:
    params: ToolDiagnosticsParams
    method: str = DIAGNOSTICS
    jsonrpc: str = "2.0"


CUSTOM_NOTIFICATIONS: dict[str, type] = {
    TERMINAL_STARTED: TerminalStartedNotification,
    TERMINAL_ENDED: TerminalEndedNotification,
    DIAGNOSTICS: ToolDiagnosticsNotification,
}


@attrs.define
class StatusParams:
    state: str  # "ready" | "error" | "changed" (a new count) | "capture-paused" | "capture-resumed"
    message: str = ""
    memories: int | None = None


# ----- command arguments (each command takes one object) --------------------------------------------


@attrs.define
class MemoryRef:
    memory_id: str
    uri: str | None = None
    """With ``line``: where the memory was shown (a code action), so that a pin teaches the ranking."""
    line: int | None = None
    diagnostic: str | None = None
    """The diagnostic the memory was shown for there (a quick fix), part of that moment."""


@attrs.define
class ShareArgs:
    memory_id: str
    workspace: str | None = None
    """The workspace folder it was learned in (only its name is recorded); None: the memory's own."""


@attrs.define
class RejectArgs:
    memory_id: str
    reason: str | None = None
    """None: ask the user for a reason (window/showMessageRequest)."""
    uri: str | None = None
    """With ``line``: where the memory was shown (a code action), so that the rejection teaches the
    ranking."""
    line: int | None = None
    diagnostic: str | None = None
    """The diagnostic the memory was shown for there (a quick fix), part of that moment."""


@attrs.define
class SearchArgs:
    query: str
    language: str | None = None
    k: int = 5
    kinds: list[str] = attrs.field(factory=list)


@attrs.define
class ShowArgs:
    memory_id: str
    reveal: bool = False
    """Also show it to the user (window/showMessage)."""


@attrs.define
class WhyArgs:
    memory_id: str
    query: str = ""
    """Without ``uri`` and ``line``: the text the memory was found for (a typed search)."""
    language: str | None = None
    workspace: str | None = None
    uri: str | None = None
    """With ``line``: where the memory was shown; the moment there is ranked as the hover ranks it."""
    line: int | None = None
    diagnostic: str | None = None
    """The diagnostic the memory was shown for there (a quick fix), part of that moment."""


@attrs.define
class ExportArgs:
    path: str
    """A file inside a workspace folder (relative paths are relative to the first one)."""
    kind: str | None = None
    overwrite: bool = False
    """Replace the file if it exists (otherwise an existing file is an error)."""


@attrs.define
class ListArgs:
    status: str | None = None
    """"pinned", "rejected" or "active"; None: every status."""
    kind: str | None = None
    limit: int = 50


@attrs.define
class SuggestArgs:
    uri: str
    line: int | None = None
    """The cursor line (0-based); None: only what applies to the whole document."""


@attrs.define
class RunValidationArgs:
    """The argument of the client-side ``carryover.runValidation`` command."""

    command: str
    cwd: str
    memory_id: str


COMMAND_ARGUMENTS: tuple[type, ...] = (
    MemoryRef,
    ShareArgs,
    RejectArgs,
    SearchArgs,
    ShowArgs,
    WhyArgs,
    ExportArgs,
    ListArgs,
    SuggestArgs,
)


def require_objects(converter: cattrs.Converter) -> None:
    """Make each command argument class accept only a JSON object: cattrs would otherwise read a
    string or a list as an object with every field at its default (``"junk"`` as ``ListArgs()``)."""
    for kind in COMMAND_ARGUMENTS:
        structure = converter.get_structure_hook(kind)

        def strict(value: Any, target: Any, structure: Any = structure, kind: type = kind) -> Any:
            if not isinstance(value, dict):
                raise TypeError(
                    f"{kind.__name__}: expected an object, got {type(value).__name__} {value!r:.40}"
                )
            try:
                return structure(value, target)
            except cattrs.BaseValidationError as error:  # one plain line: "ExportArgs.path: ..."
                raise TypeError("; ".join(cattrs.transform_error(error, path=kind.__name__))) from error

        converter.register_structure_hook(kind, strict)

"""Code actions for the memories that apply where the user asks:

- "Carryover: <guardrail>": on a diagnostic, a quick fix inserting the guard (and the memory's check)
  as a comment above the line; without a diagnostic it opens the memory.
- "Run validation: <command>": for a memory with a check command. The server never runs it: the
  action carries the client-side command ``carryover.runValidation`` {command, cwd, memoryId}, which
  the client runs after the user confirms.
- "Pin this memory", "Reject this memory", "Why this suggestion?": server commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from carryover.lsp.features import inline
from carryover.lsp.guard import guarded
from carryover.lsp.wire import CLIENT_RUN_VALIDATION, CMD_PIN, CMD_REJECT, CMD_SHOW, CMD_WHY
from carryover.recall.render import guard_comment, short_title
from carryover.recall.retrieve import Suggestion
from carryover.recall.units import indentation

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer, DocumentInfo

MAX_DIAGNOSTICS = 3
CARRYOVER_KIND = "quickfix.carryover"
KINDS = (lsp.CodeActionKind.QuickFix, CARRYOVER_KIND)


def _wanted(only: Sequence[str] | None, kind: str) -> bool:
    return not only or any(kind == prefix or kind.startswith(prefix + ".") for prefix in only)


def actions_for(
    suggestion: Suggestion,
    info: DocumentInfo,
    diagnostic: lsp.Diagnostic | None,
    only: Sequence[str] | None,
    feedback: bool = True,
) -> list[lsp.CodeAction]:
    """The actions for one memory (``feedback``: with pin / reject / why, once per memory)."""
    memory = suggestion.hit.memory
    title = short_title(memory)
    ref: dict[str, Any] = {"memoryId": memory.id}
    found: list[lsp.CodeAction] = []

    def add(action: lsp.CodeAction) -> None:
        if _wanted(only, str(action.kind or "")):
            found.append(action)

    if diagnostic is not None:
        line = diagnostic.range.start.line
        text = info.lines[line] if line < len(info.lines) else ""
        edit = lsp.TextEdit(
            range=lsp.Range(
                start=lsp.Position(line=line, character=0), end=lsp.Position(line=line, character=0)
            ),
            new_text=guard_comment(memory, info.language, indentation(text)),
        )
        add(
            lsp.CodeAction(
                title=f"Carryover: {title}",
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                edit=lsp.WorkspaceEdit(changes={info.uri: [edit]}),
            )
        )
    else:
        add(
            lsp.CodeAction(
                title=f"Carryover: {title}",
                kind=lsp.CodeActionKind.QuickFix,
                command=lsp.Command(
                    title=f"Carryover: {title}", command=CMD_SHOW, arguments=[{**ref, "reveal": True}]
                ),
            )
        )
    check = memory.check_command.strip()
    if check:
        add(
            lsp.CodeAction(
                title=f"Run validation: {check}",
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[diagnostic] if diagnostic is not None else None,
                command=lsp.Command(
                    title=f"Run validation: {check}",
                    command=CLIENT_RUN_VALIDATION,
                    arguments=[{"command": check, "cwd": info.workspace, **ref}],
                ),
            )
        )
    if not feedback:
        return found
    why_args = {
        **ref,
        "query": suggestion.query.text,
        "language": info.language,
        "workspace": info.workspace or None,
    }
    for label, command, arguments in (
        ("Pin this memory", CMD_PIN, ref),
        ("Reject this memory", CMD_REJECT, ref),
        ("Why this suggestion?", CMD_WHY, why_args),
    ):
        add(
            lsp.CodeAction(
                title=f"{label} ({title})",
                kind=CARRYOVER_KIND,
                command=lsp.Command(title=label, command=command, arguments=[arguments]),
            )
        )
    return found


def _memory_id(diagnostic: lsp.Diagnostic) -> str | None:
    if diagnostic.source != inline.SOURCE:
        return None
    data = diagnostic.data
    if isinstance(data, dict) and isinstance(data.get("memoryId"), str):
        return str(data["memoryId"])
    return str(diagnostic.code) if isinstance(diagnostic.code, str) else None


def register(server: CarryoverServer) -> None:
    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=list(KINDS), resolve_provider=False),
    )
    @guarded("codeAction")
    async def code_action(ls: CarryoverServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
        if not ls.settings.surfaces.code_actions:
            return None
        only = [str(kind) for kind in params.context.only] if params.context.only else None
        if only and not any(_wanted(only, kind) for kind in KINDS):
            return None
        info = ls.document(params.text_document.uri)
        if info.excluded:
            return None
        pairs: list[tuple[Suggestion, lsp.Diagnostic | None]] = []
        marks = {mark.suggestion.memory_id: mark for mark in inline.marks_for(ls, info.uri)}
        for diagnostic in params.context.diagnostics[:MAX_DIAGNOSTICS]:
            memory_id = _memory_id(diagnostic)
            if memory_id is not None:  # one of our guardrail hints: its memory is known
                if memory_id in marks:
                    pairs.append((marks[memory_id].suggestion, diagnostic))
                continue
            line = diagnostic.range.start.line
            for suggestion in await ls.suggestions_at(info, line, diagnostics=[diagnostic.message]):
                pairs.append((suggestion, diagnostic))
        if not params.context.diagnostics:
            for suggestion in await ls.suggestions_at(info, params.range.start.line):
                pairs.append((suggestion, None))
        actions: list[lsp.CodeAction] = []
        seen: set[tuple[str, int]] = set()
        memories: set[str] = set()
        for suggestion, target in pairs:
            key = (suggestion.memory_id, id(target))
            if key in seen:
                continue
            seen.add(key)
            first = suggestion.memory_id not in memories
            memories.add(suggestion.memory_id)
            actions.extend(actions_for(suggestion, info, target, only, feedback=first))
        return actions or None

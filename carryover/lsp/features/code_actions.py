"""Code actions for the memories that apply where the user asks:

- "Carryover: <guardrail>": on a diagnostic, a quick fix inserting the guard (and the memory's check)
  as a comment above the line; without a diagnostic it opens the memory.
- "Run validation: <command>": for a memory with a check command, only where the command's tool
  belongs to this workspace's ecosystem (its build files: package.json, pyproject.toml, go.mod,
  Cargo.toml, ...; else the document's language). Elsewhere the practice is offered with this
  workspace's own check: "Re-run the check that failed: <the workspace's failing command>", else
  "Run this project's check: <what the project declares>". A JavaScript workspace never gets a
  Python command. The server never runs it: the action carries the client-side command
  ``carryover.runValidation`` {command, cwd, memoryId, basis}, which the client runs after the user
  confirms.
- "Pin this memory", "Reject this memory", "Why this suggestion?": server commands.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from lsprotocol import types as lsp

from carryover.lsp.features import inline
from carryover.lsp.guard import guarded
from carryover.lsp.wire import CLIENT_RUN_VALIDATION, CMD_PIN, CMD_REJECT, CMD_SHOW, CMD_WHY
from carryover.recall.render import guard_comment, short_title
from carryover.recall.retrieve import Suggestion
from carryover.recall.units import indentation
from carryover.vocabulary import languages, tools

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer, DocumentInfo

MAX_DIAGNOSTICS = 3
CARRYOVER_KIND = "quickfix.carryover"
KINDS = (lsp.CodeActionKind.QuickFix, CARRYOVER_KIND)


@attrs.frozen
class Validation:
    """The check a code action offers: the command, and where it comes from (for "why this?")."""

    command: str
    title: str
    basis: str


def workspace_languages(workspace: str) -> frozenset[str]:
    """The languages a workspace declares by its top-level build files and lockfiles."""
    found: set[str] = set()
    if not workspace:
        return frozenset()
    try:
        names = [entry.name for entry in Path(workspace).iterdir()]
    except OSError:
        return frozenset()
    for name in names:
        if name in languages.FILE_NAMES or name.endswith((".csproj", ".fsproj", ".sln")):
            language = (
                "csharp" if name.endswith((".csproj", ".fsproj", ".sln")) else languages.FILE_NAMES[name]
            )
            if language != "makefile":
                found.add(language)
    return frozenset(found)


def declared_check(workspace: str) -> tuple[str, str] | None:
    """The check this project declares, and the file that declares it."""
    if not workspace:
        return None
    root = Path(workspace)
    package = root / "package.json"
    if package.is_file():
        try:
            scripts = json.loads(package.read_text(encoding="utf-8")).get("scripts") or {}
        except (OSError, ValueError, AttributeError):
            scripts = {}
        if isinstance(scripts, dict) and "test" in scripts:
            return "npm test", "package.json"
    for name, command in (
        ("Cargo.toml", "cargo test"),
        ("go.mod", "go test ./..."),
        ("pyproject.toml", "python -m pytest"),
        ("pom.xml", "mvn test"),
        ("build.gradle.kts", "./gradlew test" if (root / "gradlew").exists() else "gradle test"),
        ("build.gradle", "./gradlew test" if (root / "gradlew").exists() else "gradle test"),
        ("mix.exs", "mix test"),
        ("Package.swift", "swift test"),
        ("composer.json", "composer test"),
    ):
        if (root / name).is_file():
            return command, name
    return None


def belongs(command: str, workspace_langs: frozenset[str], document_language: str | None) -> bool:
    """Whether ``command``'s tool belongs to this workspace: its language is in the workspace's
    ecosystem (the build files; the document's language when there are none). A tool that tells no
    language (make, bash) belongs only where the workspace has no build file of another ecosystem."""
    language = tools.language_of_tool(tools.tool(tools.first_command(command)))
    here = set(workspace_langs) or ({languages.canonical(document_language) or ""} - {""})
    if language is None:
        return False
    return any(languages.same_ecosystem(language, other) for other in here)


def validation_for(
    check: str, workspace: str, document_language: str | None, failing_command: str | None
) -> Validation | None:
    """What to offer for a memory's ``check`` in this workspace (runs file reads: call it off the
    event loop)."""
    check = check.strip()
    if check and belongs(check, workspace_languages(workspace), document_language):
        return Validation(check, f"Run validation: {check}", "the memory's check (its tool belongs here)")
    if failing_command and failing_command.strip():
        command = failing_command.strip()
        return Validation(
            command, f"Re-run the check that failed: {command}", "this workspace's failing command"
        )
    declared = declared_check(workspace)
    if declared is not None:
        command, source = declared
        return Validation(command, f"Run this project's check: {command}", f"declared in {source}")
    return None


def _wanted(only: Sequence[str] | None, kind: str) -> bool:
    return not only or any(kind == prefix or kind.startswith(prefix + ".") for prefix in only)


def actions_for(
    suggestion: Suggestion,
    info: DocumentInfo,
    diagnostic: lsp.Diagnostic | None,
    only: Sequence[str] | None,
    *,
    line: int,
    feedback: bool = True,
    validation: Validation | None = None,
) -> list[lsp.CodeAction]:
    """The actions for one memory shown at ``line`` (``feedback``: with pin / reject / why, once per
    memory; ``validation``: the check to offer, see :func:`validation_for`)."""
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
            new_text=guard_comment(
                memory, info.language, indentation(text), validation.command if validation else None
            ),
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
    if validation is not None:
        add(
            lsp.CodeAction(
                title=validation.title,
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[diagnostic] if diagnostic is not None else None,
                command=lsp.Command(
                    title=validation.title,
                    command=CLIENT_RUN_VALIDATION,
                    arguments=[
                        {
                            "command": validation.command,
                            "cwd": info.workspace,
                            "basis": validation.basis,
                            **ref,
                        }
                    ],
                ),
            )
        )
    if not feedback:
        return found
    shown_at = {
        **ref,
        "uri": info.uri,
        "line": diagnostic.range.start.line if diagnostic else line,
        "diagnostic": diagnostic.message if diagnostic else None,
    }
    why_args = {
        **shown_at,
        "query": suggestion.query.text,
        "language": info.language,
        "workspace": info.workspace or None,
    }
    for label, command, arguments in (
        ("Pin this memory", CMD_PIN, shown_at),
        ("Reject this memory", CMD_REJECT, shown_at),
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
        run = ls.editor.failing_command(info.workspace)
        failing = run.command if run is not None else None
        checks: dict[str, Validation | None] = {}
        for suggestion, _target in pairs:
            memory = suggestion.hit.memory
            if memory.id not in checks and memory.check_command.strip():
                checks[memory.id] = await ls.workers.run(
                    validation_for, memory.check_command, info.workspace, info.language, failing
                )
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
            validation = checks.get(suggestion.memory_id)
            actions.extend(
                actions_for(
                    suggestion,
                    info,
                    target,
                    only,
                    line=params.range.start.line,
                    feedback=first,
                    validation=validation,
                )
            )
        return actions or None

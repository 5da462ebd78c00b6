"""The context query: what the editor sees at one moment, turned into a search of the pool.

The paper embedded a short plan written from the task rather than the raw task. Without a model we
approximate that: the most informative signal first (an error message, then the failing command's
first error line, then the code under the cursor), trimmed of noise such as paths, line numbers and
long literals, which anchor on one project instead of the problem.
"""

from __future__ import annotations

import re

import attrs

from carryover.pool.records import SearchQuery
from carryover.vocabulary import tools
from carryover.vocabulary.problems import match_families

_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\w.-]*/)+[\w.-]+")
_LOCATION = re.compile(r":\d+(?::\d+)?\b|\bline \d+\b")
_LONG_LITERAL = re.compile(r"(['\"])[^'\"]{40,}\1")
_SPACES = re.compile(r"\s+")


@attrs.frozen
class EditorContext:
    """What is known at the cursor. Every field is optional."""

    language: str | None = None
    code_line: str | None = None
    diagnostic: str | None = None
    failing_command: str | None = None
    error_line: str | None = None
    tools: tuple[str, ...] = ()
    workspace: str | None = None


def clean(text: str) -> str:
    """Drop what anchors on one project (paths, line numbers, long literals); fold white space."""
    text = _LONG_LITERAL.sub("", text)
    text = _PATH.sub(lambda match: match.group(0).rsplit("/", 1)[-1], text)
    text = _LOCATION.sub("", text)
    return _SPACES.sub(" ", text).strip()


def query_tools(context: EditorContext) -> tuple[str, ...]:
    if context.tools:
        return context.tools
    tool = tools.tool(tools.first_command(context.failing_command or ""))
    return (tool,) if tool else ()


def query_text(context: EditorContext) -> str:
    parts = [
        context.diagnostic,
        context.error_line,
        context.code_line,
        context.failing_command,
    ]
    return " \n".join(clean(part) for part in parts if part and part.strip())


def plan_text(context: EditorContext, limit: int = 2) -> str:
    """An abstract statement of the problem: the families recognised in the error text first, then
    those recognised only in the code line or the command; at most ``limit`` of them."""
    ordered = match_families([context.diagnostic, context.error_line])
    for family in match_families([context.code_line, context.failing_command]):
        if family not in ordered:
            ordered.append(family)
    return " ".join(family.statement for family in ordered[:limit])


def build_query(context: EditorContext, k: int = 3, min_score: float | None = None) -> SearchQuery | None:
    """The search for this context, or None when there is nothing to search for."""
    text = query_text(context)
    if not text:
        return None
    return SearchQuery(
        text=text,
        language=context.language,
        tools=query_tools(context),
        workspace=context.workspace,
        k=k,
        min_score=min_score,
        plan=plan_text(context),
    )

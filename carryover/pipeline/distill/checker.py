"""Does an insight generalise? The paper's rule: no specific files, queries or string contents.

:func:`insight_problems` lists what is wrong with an insight's title, description and content:

- a path or a file name (``src/app.py``, ``package.json``, ``Cargo.toml``);
- a quoted literal (anything in double quotes or backticks, a single-quoted word that is not an
  apostrophe);
- a number (any digit: line numbers, ports, error codes, versions);
- a code identifier (snake_case, camelCase, dotted or ``::`` names, calls such as ``f()``);
- a name taken from the episode (its file names and stems, code-like words of its diffs, errors and
  commands, quoted strings of its error output), as a whole word, case-insensitively;
- the shape: title present and at most 120 characters, description one sentence, content one to
  three sentences.

Language and tool names (TypeScript, JavaScript, npm…) are allowed: an insight says where it applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

# Words that a general insight may use even when an episode has a file or literal of that name.
COMMON_WORDS = frozenset(
    {
        "test", "tests", "testing", "spec", "specs", "main", "index", "app", "apps", "src", "lib", "libs",
        "config", "configs", "configuration", "setup", "utils", "util", "helpers", "helper", "init", "mod",
        "build", "builds", "package", "packages", "module", "modules", "server", "client", "data", "model",
        "models", "api", "core", "common", "types", "type", "docs", "readme", "cli", "run", "runner",
        "example", "examples", "script", "scripts", "start", "service", "services", "handler", "handlers",
        "router", "routes", "route", "views", "view", "controller", "controllers", "store", "error",
        "errors", "value", "values", "input", "output", "result", "results", "name", "names", "item",
        "items", "list", "lists", "user", "users", "file", "files", "path", "paths", "query", "queries",
        "string", "strings", "number", "numbers", "check", "checks", "update", "updates", "install", "lock",
        "lockfile", "manifest", "image", "container", "docker", "compose", "base", "node", "python", "rust",
        "java", "go", "typescript", "javascript", "shell", "bash", "command", "commands", "import",
        "imports", "dependency", "dependencies", "default", "defaults", "key", "keys", "table",
        "tables", "column", "columns", "field", "fields", "request", "requests", "response", "responses",
        "database", "parser", "parse", "format", "schema", "schemas", "version", "versions", "env",
        "environment", "settings", "setting", "secret", "secrets", "token", "tokens", "port", "ports",
        "host", "hosts", "debug", "release", "source", "sources", "target", "fixture", "fixtures", "mock",
        "mocks", "assert", "assertion", "assertions", "expected", "actual", "none", "null", "undefined",
        "nil", "option", "optional", "options", "promise", "promises", "future", "futures", "async",
        "await", "coroutine", "thread", "threads", "process", "processes", "cache", "state", "session",
        "sessions", "login", "logout", "auth", "account", "accounts", "order", "orders", "price", "prices",
        "total", "count", "counter", "limit", "limits", "range", "ranges", "indexes", "page",
        "pages", "date", "time",
    }
)  # fmt: skip

ALLOWED_NAMES = frozenset(
    {
        "TypeScript", "JavaScript", "GitHub", "GitLab", "NumPy", "PyPI", "PyTorch", "macOS", "iOS",
        "PostgreSQL", "MySQL", "SQLite", "MongoDB", "GraphQL", "OpenAPI", "WebSocket", "DevOps",
        "NuGet", "CMake", "LaTeX", "YAML", "JSON", "TOML", "CI", "Node.js", "Next.js", "Vue.js", "ASP.NET",
    }
)  # fmt: skip

_FILE_EXTENSIONS = (
    "py|pyi|js|mjs|cjs|jsx|ts|tsx|rs|go|java|kt|kts|scala|cs|rb|php|swift|c|h|cc|cpp|hpp|ex|exs|sh|bash|"
    "zsh|sql|tf|lua|dart|json|toml|yaml|yml|lock|txt|md|rst|cfg|ini|xml|html|css|scss|env|mod|sum|gradle|"
    "properties|csv|log|conf|pem|key|ipynb|vue|svelte"
)
# A leading slash, two or more slashes, or one slash and a file extension: `and/or` is prose.
_PATH = re.compile(
    r"(?:^|[\s(])(?:~|\.{1,2})?/[\w.@-]+|\b[\w@.-]+(?:/[\w@.-]+){2,}|\b[\w@.-]+/[\w@-]*\.[A-Za-z]\w*"
)
_FILE = re.compile(rf"\b[\w-]+\.(?:{_FILE_EXTENSIONS})\b", re.IGNORECASE)
_SPECIAL_FILE = re.compile(
    r"\b(?:Dockerfile|Makefile|Gemfile|Procfile|Jenkinsfile|Cargo\.toml|go\.mod|go\.sum|package\.json"
    r"|pom\.xml|requirements\.txt|pyproject\.toml|tsconfig\.json)\b"
)
_DOUBLE_QUOTED = re.compile(r"""["“”`][^"“”`]*["“”`]|`""")
_SINGLE_QUOTED = re.compile(r"(?<![A-Za-z])['‘][^'‘’\n]+['’](?![A-Za-z])")
_DIGIT = re.compile(r"\d")
_SNAKE = re.compile(r"\b[A-Za-z]+_[A-Za-z0-9_]+\b")
_CAMEL = re.compile(r"\b[a-z]+[A-Z][A-Za-z0-9]*\b|\b[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*\b")
_DOTTED = re.compile(r"\b[A-Za-z_]\w*(?:\.|::|->)[A-Za-z_]\w*\b")
_CALL = re.compile(r"\b\w+\(\)|[{}\[\]<>]|==|!=|=>|:=")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


@attrs.frozen
class InsightText:
    title: str
    description: str
    content: str
    when_not: str = ""


def sentences(text: str) -> int:
    """Sentences in ``text`` (ends of sentence followed by a blank or the end)."""
    stripped = text.strip()
    if not stripped:
        return 0
    count = len(_SENTENCE_END.findall(stripped))
    return count if stripped[-1] in ".!?" else count + 1


def _without_allowed(text: str) -> str:
    for name in ALLOWED_NAMES:
        text = re.sub(rf"\b{re.escape(name)}\b", "x", text)
    return text


def names_file(text: str) -> bool:
    """Whether ``text`` names a file (``app.py``, ``Cargo.toml``, ``Dockerfile``)."""
    return bool(_FILE.search(_without_allowed(text)) or _SPECIAL_FILE.search(text))


def text_problems(text: str, field: str, episode_names: Iterable[str] = ()) -> list[str]:
    """What in ``text`` names something specific (see the module's list)."""
    problems: list[str] = []
    cleaned = _without_allowed(text)
    if _PATH.search(cleaned) or _FILE.search(cleaned) or _SPECIAL_FILE.search(text):
        problems.append(f"{field} names a file or path")
    if _DOUBLE_QUOTED.search(cleaned) or _SINGLE_QUOTED.search(cleaned):
        problems.append(f"{field} quotes a literal")
    if _DIGIT.search(cleaned):
        problems.append(f"{field} contains a number")
    code = (
        _SNAKE.search(cleaned) or _CAMEL.search(cleaned) or _DOTTED.search(cleaned) or _CALL.search(cleaned)
    )
    if code:
        problems.append(f"{field} contains a code identifier ({code.group(0).strip()})")
    lowered = cleaned.lower()
    named = sorted(
        {
            name
            for name in episode_names
            if name.lower() not in COMMON_WORDS
            and name not in ALLOWED_NAMES
            and re.search(rf"(?<![\w-]){re.escape(name.lower())}(?![\w-])", lowered)
        }
    )
    if named:
        problems.append(f"{field} repeats a name from the episode ({', '.join(named[:3])})")
    return problems


def insight_problems(insight: InsightText, episode_names: Iterable[str] = ()) -> list[str]:
    """Everything that keeps ``insight`` from being a general insight; empty when it is one."""
    names = list(episode_names)
    problems: list[str] = []
    if not insight.title.strip():
        problems.append("title is empty")
    elif len(insight.title) > 120:
        problems.append("title is longer than 120 characters")
    if sentences(insight.description) != 1:
        problems.append("description must be one sentence")
    if not 1 <= sentences(insight.content) <= 3:
        problems.append("content must be one to three sentences")
    for field, text in (
        ("title", insight.title),
        ("description", insight.description),
        ("content", insight.content),
        ("when_not", insight.when_not),
    ):
        problems.extend(text_problems(text, field, names))
    return problems

"""Languages: the one table of editor language ids, file names and extensions, aliases, ecosystems,
display names and comment syntax, used by capture, distillation, ranking and retrieval.

Everything is said in *canonical* language names: an editor's ``typescriptreact`` is ``typescript``,
``shellscript`` is ``shell``; a memory learned in a ``.tsx`` file and a hover in one agree.
"""

from __future__ import annotations

from pathlib import PurePosixPath

ALIASES = {
    "typescriptreact": "typescript",
    "javascriptreact": "javascript",
    "shellscript": "shell",
    "bash": "shell",
    "sh": "shell",
    "zsh": "shell",
    "bat": "shell",
    "powershell": "shell",
    "pip-requirements": "python",
    "objective-c": "c",
    "objective-cpp": "cpp",
    "c++": "cpp",
    "cuda-cpp": "cpp",
    "c#": "csharp",
    "golang": "go",
    "js": "javascript",
    "ts": "typescript",
    "py": "python",
    "kt": "kotlin",
    "rb": "ruby",
    "rs": "rust",
    "docker": "dockerfile",
    "terraform-vars": "terraform",
    "hcl": "terraform",
}

NOT_CODE = frozenset(
    {"plaintext", "json", "jsonc", "markdown", "ini", "xml", "properties", "log", "csv", "ignore", "dotenv"}
)
"""Editor language ids of files that say nothing about the language a lesson was learned in."""

EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".pyw": "python", ".ipynb": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".rs": "rust", ".go": "go", ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala",
    ".cs": "csharp", ".fs": "fsharp", ".rb": "ruby", ".php": "php", ".swift": "swift",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".m": "c", ".mm": "cpp", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hs": "haskell",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ps1": "shell", ".sql": "sql", ".tf": "terraform",
    ".lua": "lua", ".dart": "dart", ".zig": "zig", ".r": "r", ".pl": "perl", ".clj": "clojure",
    ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".html": "html", ".css": "css", ".scss": "css",
    ".vue": "vue", ".svelte": "svelte",
}  # fmt: skip

FILE_NAMES = {
    "Dockerfile": "dockerfile", "Containerfile": "dockerfile", "Makefile": "makefile",
    "package.json": "javascript", "package-lock.json": "javascript", "yarn.lock": "javascript",
    "pnpm-lock.yaml": "javascript", "tsconfig.json": "typescript", "Cargo.toml": "rust",
    "Cargo.lock": "rust", "go.mod": "go", "go.sum": "go", "pom.xml": "java", "build.gradle": "java",
    "build.gradle.kts": "kotlin", "settings.gradle": "java", "pyproject.toml": "python",
    "requirements.txt": "python", "setup.py": "python", "setup.cfg": "python", "poetry.lock": "python",
    "Pipfile": "python", "uv.lock": "python", "Gemfile": "ruby", "Gemfile.lock": "ruby",
    "composer.json": "php", "composer.lock": "php", "mix.exs": "elixir", "Package.swift": "swift",
    "CMakeLists.txt": "cpp",
}  # fmt: skip
"""Files whose name alone tells the language (build files and lockfiles)."""

ECOSYSTEMS = {
    "javascript": "javascript", "typescript": "javascript", "vue": "javascript", "svelte": "javascript",
    "c": "c", "cpp": "c", "java": "jvm", "kotlin": "jvm",
}  # fmt: skip
"""Languages that share tools and commands: a procedure (its literal commands) carries within an
ecosystem, never across one. A language not named here is its own ecosystem."""

DISPLAY_NAMES = {
    "javascript": "JavaScript", "typescript": "TypeScript", "cpp": "C++", "csharp": "C#", "fsharp": "F#",
    "php": "PHP", "sql": "SQL", "shell": "shell", "yaml": "YAML", "toml": "TOML", "html": "HTML",
    "css": "CSS",
}  # fmt: skip

_HASH_COMMENT = frozenset(
    {"python", "ruby", "shell", "perl", "r", "yaml", "toml", "dockerfile", "makefile", "elixir", "terraform"}
)
_DASH_COMMENT = frozenset({"sql", "lua", "haskell"})
_BLOCK_COMMENT = {
    "html": ("<!--", "-->"),
    "xml": ("<!--", "-->"),
    "markdown": ("<!--", "-->"),
    "vue": ("<!--", "-->"),
    "svelte": ("<!--", "-->"),
    "css": ("/*", "*/"),
}


def canonical(language: str | None) -> str | None:
    """The canonical name of an editor language id or alias (lower case); None for none."""
    if not language:
        return None
    lowered = language.strip().lower()
    if not lowered:
        return None
    return ALIASES.get(lowered, lowered)


def of_path(path: str) -> str | None:
    """The language a file's name or extension tells, canonical; None when it tells none."""
    name = PurePosixPath(path.replace("\\", "/")).name
    if name in FILE_NAMES:
        return FILE_NAMES[name]
    if name.startswith(("Dockerfile", "Containerfile")):
        return "dockerfile"
    return EXTENSIONS.get(PurePosixPath(name).suffix.lower())


def of_document(language_id: str | None, path: str) -> str | None:
    """A document's language: the editor's language id (canonical), else the file's name."""
    if language_id and language_id.lower() != "plaintext":
        return canonical(language_id)
    return of_path(path)


def of_code(language_id: str | None) -> str | None:
    """The language a lesson learned in a file of this editor language id is about; None for files
    that are not code (JSON, Markdown, .env, ...)."""
    language = canonical(language_id)
    return None if language is None or language in NOT_CODE else language


def ecosystem(language: str | None) -> str | None:
    language = canonical(language)
    if language is None:
        return None
    return ECOSYSTEMS.get(language, language)


def same_ecosystem(first: str | None, second: str | None) -> bool:
    one, other = ecosystem(first), ecosystem(second)
    return one is not None and one == other


def display_name(language: str) -> str:
    language = canonical(language) or language
    return DISPLAY_NAMES.get(language, language.capitalize())


def comment(language: str | None, text: str) -> str:
    """``text`` as a one-line comment in ``language`` (``//`` when unknown). ``text`` must already be
    one line free of the comment's terminator (see ``safe_comment_text``)."""
    language = canonical(language)
    if language in _BLOCK_COMMENT:
        start, end = _BLOCK_COMMENT[language]
        return f"{start} {text} {end}"
    if language in _HASH_COMMENT:
        return f"# {text}"
    if language in _DASH_COMMENT:
        return f"-- {text}"
    return f"// {text}"


def _breaks_line(char: str) -> bool:
    return ord(char) < 32 or 127 <= ord(char) < 160 or char in "\u2028\u2029"


def safe_comment_text(text: str, limit: int = 200) -> str:
    """``text`` made safe to sit inside any one-line comment: one line (every line break and control
    character becomes a space), no comment terminator (``*/``, ``-->``), at most ``limit`` chars."""
    flattened = "".join(
        " " if (ord(char) < 32 or ord(char) == 127 or char in "\u2028\u2029\x85") else char for char in text
    )
    while "*/" in flattened or "-->" in flattened:
        flattened = flattened.replace("*/", "* /").replace("-->", "-- >")
    flattened = " ".join(flattened.split())
    return flattened if len(flattened) <= limit else flattened[: limit - 1].rstrip() + "…"

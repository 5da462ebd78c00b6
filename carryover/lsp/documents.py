"""Pure helpers over documents and paths: languages, comments, functions, workspaces, exclusions."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

import attrs

LANGUAGE_BY_SUFFIX = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascriptreact",
    ".ts": "typescript",
    ".tsx": "typescriptreact",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".rb": "ruby",
    ".php": "php",
    ".cs": "csharp",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".swift": "swift",
    ".sh": "shellscript",
    ".bash": "shellscript",
    ".sql": "sql",
    ".lua": "lua",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
}

LANGUAGE_NAMES = {
    "javascript": "JavaScript",
    "javascriptreact": "JavaScript",
    "typescript": "TypeScript",
    "typescriptreact": "TypeScript",
    "cpp": "C++",
    "csharp": "C#",
    "php": "PHP",
    "sql": "SQL",
    "shellscript": "shell",
    "yaml": "YAML",
    "toml": "TOML",
    "html": "HTML",
    "css": "CSS",
}

_HASH_COMMENT = frozenset(
    {"python", "ruby", "shellscript", "perl", "r", "yaml", "toml", "dockerfile", "makefile", "elixir"}
)
_DASH_COMMENT = frozenset({"sql", "lua", "haskell"})
_BLOCK_COMMENT = {
    "html": ("<!--", " -->"),
    "xml": ("<!--", " -->"),
    "markdown": ("<!--", " -->"),
    "css": ("/*", " */"),
}

_HEADER = re.compile(
    r"^\s*(?:(?:export|pub(?:\([a-z]+\))?|public|private|protected|internal|static|async|override|"
    r"final|abstract|virtual|unsafe|extern|default)\s+)*"
    r"(?:def|fn|func|function|sub|proc|fun)\b"
    r"|^\s*(?:(?:export|public|private|protected|internal|static|async|const|let|var)\s+)+"
    r"[\w$]+\s*=\s*(?:async\s*)?(?:function\b|\([^()]*\)\s*=>)"
    r"|^\s*(?:(?:public|private|protected|internal|static|final|override|virtual|async)\s+)+"
    r"[\w<>\[\],.? ]+\s+\w+\s*\([^;]*$"
)


def language_of(language_id: str | None, path: str) -> str | None:
    """The document's language: the client's languageId, else guessed from the file suffix."""
    if language_id and language_id != "plaintext":
        return language_id.lower()
    return LANGUAGE_BY_SUFFIX.get(PurePosixPath(path).suffix.lower())


def language_name(language: str) -> str:
    return LANGUAGE_NAMES.get(language, language.capitalize())


def comment(language: str | None, text: str) -> str:
    """``text`` as a one-line comment in ``language`` (``//`` when unknown)."""
    if language in _BLOCK_COMMENT:
        start, end = _BLOCK_COMMENT[language]
        return f"{start} {text}{end}"
    if language in _HASH_COMMENT:
        return f"# {text}"
    if language in _DASH_COMMENT:
        return f"-- {text}"
    return f"// {text}"


def indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def is_function_header(line: str) -> bool:
    return bool(_HEADER.match(line))


@attrs.frozen
class Unit:
    """A function (or the top-level lines before the first one): the lines a code lens sits above."""

    start: int
    end: int  # exclusive
    header: bool


def units(lines: Sequence[str]) -> list[Unit]:
    """Split a document into function-sized units at function headers."""
    starts = [number for number, line in enumerate(lines) if is_function_header(line)]
    found: list[Unit] = []
    if not starts or starts[0] > 0:
        found.append(Unit(0, starts[0] if starts else len(lines), header=False))
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(lines)
        found.append(Unit(start, end, header=True))
    return found


def unit_at(all_units: Sequence[Unit], line: int) -> Unit | None:
    for unit in all_units:
        if unit.start <= line < unit.end:
            return unit
    return None


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


def workspace_for(path: str, folders: Iterable[str]) -> str:
    """The innermost workspace folder holding ``path`` ("" when none does)."""
    best = ""
    for folder in folders:
        root = folder.rstrip("/") or "/"
        inside = path == root or path.startswith(root if root.endswith("/") else root + "/")
        if inside and len(root) > len(best):
            best = root
    return best


def is_excluded(path: str, patterns: Sequence[str], folders: Iterable[str] = ()) -> bool:
    """Whether ``path`` matches one of the exclude globs (absolute, or relative to a workspace
    folder; ``**/`` also matches at the top)."""
    if not patterns or not path:
        return False
    candidates = {path, PurePosixPath(path).name}
    root = workspace_for(path, folders)
    if root:
        candidates.add(path[len(root) :].lstrip("/"))
    for pattern in patterns:
        variants = {pattern}
        if pattern.startswith("**/"):
            variants.add(pattern[3:])
        for variant in variants:
            if any(fnmatch.fnmatchcase(candidate, variant) for candidate in candidates):
                return True
    return False

"""What a command line is: its tool family, its targets, whether it checks, changes or only looks.

Used by segmentation (does this pass validate that failure?) and distillation (languages, tools, the
generic check command).
"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath

import attrs

_WRAPPERS = frozenset({"sudo", "env", "time", "nice", "command", "exec", "nohup", "stdbuf", "timeout"})
_RUNNERS = frozenset({"poetry", "uv", "pipenv", "pdm", "hatch", "rye", "bundle"})
_NO_FAILURE_TOOLS = frozenset(
    {"grep", "egrep", "fgrep", "rg", "ag", "ack", "diff", "cmp", "test", "[", "[[", "which", "type", "false",
     "true", "pgrep", "man", "less", "more", "exit", "read", "wait", "kill", "pkill", "fg", "bg", "jobs"}
)  # fmt: skip
_NOISE_TOOLS = frozenset(
    {"ls", "ll", "la", "l", "cd", "pwd", "cat", "bat", "less", "more", "head", "tail", "echo", "printf",
     "clear", "history", "which", "type", "whoami", "date", "tree", "find", "fd", "grep", "rg", "ag", "wc",
     "file", "stat", "du", "df", "env", "printenv", "man", "help", "code", "vim", "vi", "nvim", "nano",
     "emacs", "open", "xdg-open", "top", "htop", "ps", "jobs", "exit", "source", ".", "alias", "export",
     "set", "unset", "sleep", "true", "false"}
)  # fmt: skip
_GIT_READ_ONLY = frozenset(
    {"status", "log", "diff", "show", "branch", "remote", "blame", "shortlog", "describe", "reflog",
     "ls-files", "grep", "config", "rev-parse", "tag", "fetch"}
)  # fmt: skip
# Exit codes that mean "stopped", not "failed": SIGINT (Ctrl-C), SIGPIPE, SIGTERM.
_INTERRUPTED = frozenset({130, 141, 143})

_JS_TEST = "js test"
_FAMILY_ALIASES = {
    "npm test": _JS_TEST, "npm run test": _JS_TEST, "yarn test": _JS_TEST, "yarn run test": _JS_TEST,
    "pnpm test": _JS_TEST, "pnpm run test": _JS_TEST, "bun test": _JS_TEST, "jest": _JS_TEST,
    "vitest": _JS_TEST, "vitest run": _JS_TEST, "mocha": _JS_TEST, "npx jest": _JS_TEST,
    "npx vitest": _JS_TEST, "python -m pytest": "pytest", "py.test": "pytest", "python -m mypy": "mypy",
    "npx tsc": "tsc", "python -m unittest": "unittest", "./mvnw": "mvn", "./gradlew": "gradle",
}  # fmt: skip
_SUBCOMMAND_TOOLS = frozenset(
    {"npm", "yarn", "pnpm", "bun", "cargo", "go", "mvn", "./mvnw", "gradle", "./gradlew", "docker", "make",
     "dotnet", "swift", "mix", "git", "pip", "pip3", "poetry", "uv", "bundle", "rake", "deno", "kubectl",
     "helm", "terraform", "composer", "gem", "apt-get", "apt", "brew", "conda", "stack", "cabal"}
)  # fmt: skip
_RUN_SUBCOMMANDS = frozenset({"run", "run-script", "exec"})

CHECK_FAMILIES = frozenset(
    {"pytest", "unittest", "tox", "nox", "mypy", "pyright", "ruff", "flake8", "pylint", "black", _JS_TEST,
     "npm run build", "npm run lint", "npm run typecheck", "npm ci", "tsc", "eslint", "prettier",
     "cargo test", "cargo build", "cargo check", "cargo clippy", "cargo run", "go test", "go build",
     "go vet", "go run",
     "mvn", "gradle", "javac", "docker build", "docker compose", "make", "dotnet test", "dotnet build",
     "swift test", "swift build", "mix test", "rspec", "rake", "deno test", "bundle exec", "gcc", "g++",
     "clang", "cmake", "node", "python", "ruby", "java", "phpunit", "terraform", "helm", "ctest"}
)  # fmt: skip
_INSTALL = re.compile(
    r"""^(?:
        (?:npm|pnpm|yarn|bun)\ (?:install|i|ci|add|update|upgrade|remove|uninstall)
      | (?:pip|pip3|uv\ pip)\ (?:install|uninstall)
      | (?:poetry|uv|pdm|rye)\ (?:add|remove|install|lock|sync|update)
      | cargo\ (?:add|remove|update|fetch|generate-lockfile|install)
      | go\ (?:get|mod|install)
      | mvn\ (?:install|dependency:\w+)
      | (?:gradle|\./gradlew)\ (?:--refresh-dependencies|dependencies)
      | (?:apt-get|apt|brew|apk|dnf|yum)\ (?:install|add)
      | (?:bundle|gem)\ (?:install|add|update)
      | (?:composer)\ (?:install|require|update)
      | (?:dotnet)\ (?:add|restore)
      | conda\ install
    )\b""",
    re.VERBOSE,
)

LANGUAGE_OF_TOOL = {
    "pytest": "python", "unittest": "python", "tox": "python", "nox": "python", "mypy": "python",
    "pyright": "python", "ruff": "python", "flake8": "python", "pylint": "python", "black": "python",
    "pip": "python", "pip3": "python", "poetry": "python", "uv": "python", "python": "python",
    "python3": "python", _JS_TEST: "javascript", "npm": "javascript", "yarn": "javascript",
    "pnpm": "javascript", "node": "javascript", "jest": "javascript", "vitest": "javascript",
    "eslint": "javascript", "tsc": "typescript", "cargo": "rust", "rustc": "rust", "go": "go",
    "mvn": "java", "gradle": "java", "javac": "java", "java": "java", "dotnet": "csharp",
    "swift": "swift", "mix": "elixir", "rspec": "ruby", "rake": "ruby", "bundle": "ruby", "ruby": "ruby",
    "gem": "ruby", "deno": "typescript", "docker": "dockerfile", "gcc": "c", "g++": "cpp", "clang": "c",
    "cmake": "cpp", "ctest": "cpp", "phpunit": "php", "composer": "php", "terraform": "terraform",
}  # fmt: skip

LANGUAGE_OF_EXTENSION = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript", ".rs": "rust",
    ".go": "go", ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".swift": "swift", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp",
    ".hpp": "cpp", ".cxx": "cpp", ".ex": "elixir", ".exs": "elixir", ".sh": "shell", ".bash": "shell",
    ".sql": "sql", ".tf": "terraform", ".lua": "lua", ".dart": "dart", ".zig": "zig",
}  # fmt: skip
LANGUAGE_OF_FILENAME = {
    "Dockerfile": "dockerfile", "Containerfile": "dockerfile", "package.json": "javascript",
    "package-lock.json": "javascript", "yarn.lock": "javascript", "pnpm-lock.yaml": "javascript",
    "tsconfig.json": "typescript", "Cargo.toml": "rust", "Cargo.lock": "rust", "go.mod": "go",
    "go.sum": "go", "pom.xml": "java", "build.gradle": "java", "pyproject.toml": "python",
    "requirements.txt": "python", "setup.py": "python", "poetry.lock": "python", "Gemfile": "ruby",
    "Gemfile.lock": "ruby", "composer.json": "php",
}  # fmt: skip


_REDIRECT = re.compile(r"^\d*(?:>>?|<<?|>&|&>>?)(.*)$")


def split(command: str) -> list[str]:
    """The words of a command line (shell quoting understood; unbalanced quotes tolerated), without
    redirections (``2>&1``, ``> out.txt``)."""
    try:
        words = shlex.split(command, comments=False, posix=True)
    except ValueError:
        words = command.split()
    kept: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        redirect = _REDIRECT.match(word)
        if redirect:
            skip_next = redirect.group(1) == ""
            continue
        kept.append(word)
    return kept


def _strip(words: list[str]) -> list[str]:
    """Drop leading ``VAR=value`` assignments, wrappers (sudo, env, time…) and runners (poetry run)."""
    index = 0
    while index < len(words):
        word = words[index]
        if "=" in word and not word.startswith("-") and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word):
            index += 1
        elif word in _WRAPPERS:
            index += 1
            while index < len(words) and words[index].startswith("-"):
                index += 1
        elif word in _RUNNERS and index + 1 < len(words) and words[index + 1] in _RUN_SUBCOMMANDS:
            index += 2
        elif word in {"npx", "bunx"}:
            index += 1
            while index < len(words) and words[index].startswith("-"):
                index += 1
        else:
            break
    return words[index:]


def first_command(command: str) -> str:
    """The first simple command of a pipeline or list (``cd x && pytest`` → ``pytest``: the part
    that decides the exit code is usually the last, but ``cd`` prefixes are common); of a pipeline
    the producer (``pytest | tail`` → ``pytest``)."""
    parts = [
        re.split(r"(?<!\|)\|(?!\|)", part)[0].strip()
        for part in re.split(r"\s*(?:&&|\|\||;)\s*", command.strip())
    ]
    meaningful = [
        part for part in parts if part and tool(part) not in ("cd", "pushd", "source", ".", "export")
    ]
    return meaningful[-1] if meaningful else (parts[-1] if parts else "")


def tool(command: str) -> str:
    """The program a simple command runs (``pytest`` for ``python -m pytest``), lower-case."""
    words = _strip(split(command))
    if not words:
        return ""
    head = words[0]
    name = PurePosixPath(head).name if not head.startswith("./") else head
    if name.startswith("python") and len(words) >= 3 and words[1] == "-m":
        return words[2]
    return name


@attrs.frozen
class CommandShape:
    """A command line understood: ``family`` (``cargo test``, ``js test``, ``pytest``), ``tool``,
    ``targets`` (positional arguments after the family), ``flags``."""

    family: str
    tool: str
    targets: tuple[str, ...]
    flags: tuple[str, ...]
    line: str


def shape(command: str) -> CommandShape:
    line = first_command(command)
    words = _strip(split(line))
    if not words:
        return CommandShape("", "", (), (), command)
    head = words[0]
    name = PurePosixPath(head).name if not head.startswith("./") else head
    rest = words[1:]
    family = name
    if name.startswith("python") and len(rest) >= 2 and rest[0] == "-m":
        family = f"python -m {rest[1]}"
        name = rest[1]
        rest = rest[2:]
    elif name in _SUBCOMMAND_TOOLS and rest and not rest[0].startswith("-"):
        sub = rest[0]
        rest = rest[1:]
        family = f"{name} {sub}"
        if sub in _RUN_SUBCOMMANDS and rest and not rest[0].startswith("-") and name != "docker":
            family = f"{name} run {rest[0]}"
            rest = rest[1:]
        if (
            name in ("docker", "podman")
            and sub in ("compose", "buildx")
            and rest
            and not rest[0].startswith("-")
        ):
            family = f"{name} {sub} {rest[0]}"
            rest = rest[1:]
    elif name in ("mvn", "./mvnw", "gradle", "./gradlew"):
        family = name
    family = _FAMILY_ALIASES.get(family, family)
    if name in ("mvn", "./mvnw", "gradle", "./gradlew"):
        family = _FAMILY_ALIASES.get(name, name)
    targets = tuple(word for word in rest if not word.startswith("-"))
    flags = tuple(word for word in rest if word.startswith("-"))
    return CommandShape(family, name, targets, flags, line)


def is_noise(command: str) -> bool:
    """Commands that only look around (``ls``, ``git status``, ``cat``): never a failure signal."""
    line = first_command(command)
    name = tool(line)
    if name in _NOISE_TOOLS:
        return True
    if name == "git":
        words = _strip(split(line))
        return len(words) < 2 or words[1] in _GIT_READ_ONLY
    return False


def failure_counts(command: str, exit_code: int | None) -> bool:
    """Whether a non-zero exit is a failure worth an episode (not ``grep`` finding nothing, not an
    interrupt, not a read-only command)."""
    if exit_code is None or exit_code == 0 or exit_code in _INTERRUPTED:
        return False
    name = tool(first_command(command))
    return bool(name) and name not in _NO_FAILURE_TOOLS and not is_noise(command)


def is_install(command: str) -> bool:
    """Commands that change dependencies (``npm install``, ``pip install``, ``go get``)."""
    words = _strip(split(first_command(command)))
    if not words:
        return False
    if words[0].startswith("python") and len(words) > 2 and words[1] == "-m":
        words = words[2:]
    return _INSTALL.match(" ".join(words)) is not None


def is_check(command: str) -> bool:
    """A command whose passing validates work (tests, builds, type checks, linters)."""
    family = shape(command).family
    return family in CHECK_FAMILIES or family.split(" ")[0] in CHECK_FAMILIES


def _covers(passing: str, failing: str) -> bool:
    if passing == failing or passing in (".", "./...", "...", "./"):
        return True
    if passing.endswith("/..."):
        base = passing[:-4]
        return failing == base or failing.startswith(base.rstrip("/") + "/")
    trimmed = passing.rstrip("/")
    return (
        failing.startswith(trimmed + "/")
        or failing.startswith(trimmed + "::")
        or failing.startswith(trimmed + "#")
    )


def validates(passing: CommandShape, failing: CommandShape) -> bool:
    """Whether ``passing`` (exit 0) re-runs what ``failing`` ran: the same family, and targets that
    include the failing ones (no targets = the whole suite; ``./...`` covers every package)."""
    if not passing.family or passing.family != failing.family:
        return False
    if not passing.targets:
        return True
    if not failing.targets:
        return False
    return all(any(_covers(p, f) for p in passing.targets) for f in failing.targets)


def generic_command(command: str) -> str:
    """The command in a form that names no file, test or literal: the family plus plain flags
    (``pytest -x tests/test_a.py::test_b`` → ``pytest -x``; ``go test ./pkg/...`` → ``go test ./...``;
    ``docker build -t app:dev .`` → ``docker build .``)."""
    cmd = shape(command)
    if not cmd.family:
        return ""
    family = cmd.family
    if family == _JS_TEST:
        family = "npm test"
    words = [family]
    flags = [f for f in cmd.flags if re.fullmatch(r"--?[A-Za-z][A-Za-z-]*", f) and len(f) <= 24]
    # Flags that take a value (`-t name`, `-k expr`, `-p pkg`) would leave a dangling flag: drop them.
    valued = {
        "-t", "-k", "-p", "-m", "-f", "-o", "-c", "--tag", "--file", "--target", "-run", "--run", "--tests",
        "--testNamePattern", "--config", "--project", "-pl", "-Dtest", "--manifest-path", "--package",
    }  # fmt: skip
    words.extend(f for f in flags if f not in valued)
    if family in ("mvn", "gradle"):  # lifecycle goals and tasks are part of the command, not targets
        words.extend(t for t in cmd.targets if re.fullmatch(r"[a-z][A-Za-z-]*(?::[a-z][A-Za-z-]*)?", t))
    if family.startswith("go "):
        words.append("./...")
    elif family in ("docker build", "docker buildx build"):
        words.append(".")
    return " ".join(dict.fromkeys(words))


def language_of_path(path: str) -> str | None:
    name = PurePosixPath(path).name
    if name in LANGUAGE_OF_FILENAME:
        return LANGUAGE_OF_FILENAME[name]
    if name.startswith("Dockerfile"):
        return "dockerfile"
    return LANGUAGE_OF_EXTENSION.get(PurePosixPath(name).suffix.lower())


def language_of_tool(name: str) -> str | None:
    return LANGUAGE_OF_TOOL.get(name) or LANGUAGE_OF_TOOL.get(name.split(" ", maxsplit=1)[0])

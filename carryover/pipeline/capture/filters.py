"""Which paths of a workspace capture may look at.

Three layers, in gitignore syntax (pathspec's ``GitIgnoreSpec``):

1. **never** (built in, cannot be re-included): secrets. ``.env`` files, key and certificate files,
   credential stores, ``.ssh``/``.aws``/``.gnupg`` folders. Their content is never captured and a
   change to them is not even an event.
2. **user excludes**: the ``exclude`` globs of the settings (gitignore syntax).
3. **.gitignore** files (the root's, nested ones relative to their folder, and ``.git/info/exclude``)
   plus built-in noise (``.git/``, ``node_modules/``, ``__pycache__/``, virtual environments, editor
   swap files). A nested ``.gitignore`` overrides a shallower one, ``!pattern`` re-includes, as in git.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import pathspec

NEVER_CAPTURE: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.gpg",
    "*.asc",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".pgpass",
    ".git-credentials",
    "credentials",
    "credentials.*",
    "secrets.*",
    "*.secret",
    "*.secrets",
    "*.tfstate",
    "*.tfstate.*",
    ".ssh/",
    ".aws/",
    ".gnupg/",
    ".docker/config.json",
    ".kube/config",
)

NOISE: tuple[str, ...] = (
    ".git/",
    ".hg/",
    ".svn/",
    "node_modules/",
    "__pycache__/",
    "*.pyc",
    ".venv/",
    "venv/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".tox/",
    ".idea/",
    "*.swp",
    "*.swo",
    "*.swx",
    "*~",
    ".#*",
    "#*#",
    "4913",
    ".DS_Store",
)


def _spec(lines: Sequence[str]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(list(lines))


_NEVER = _spec(NEVER_CAPTURE)


GITIGNORE = ".gitignore"
INFO_EXCLUDE = ".git/info/exclude"


def holds_ignore_rules(path: str | os.PathLike[str]) -> bool:
    """True for the files a :class:`PathFilter` reads its rules from: a folder's ``.gitignore`` and
    the repository's ``.git/info/exclude`` (``path`` absolute or relative to the root)."""
    text = str(path).replace(os.sep, "/")
    return text.rsplit("/", 1)[-1] == GITIGNORE or text == INFO_EXCLUDE or text.endswith("/" + INFO_EXCLUDE)


def is_secret_path(path: str | os.PathLike[str]) -> bool:
    """True for paths whose content must never be captured (``.env``, keys, credential files)."""
    text = str(path).replace(os.sep, "/")
    return bool(_NEVER.match_file(text.lstrip("/")))


class PathFilter:
    """Decides whether a path under ``root`` is excluded from capture. Thread-safe; call
    :meth:`invalidate` when a ``.gitignore`` changes (the watcher does)."""

    def __init__(
        self, root: str | os.PathLike[str], exclude: Sequence[str] = (), use_gitignore: bool = True
    ) -> None:
        self.root = Path(root).resolve()
        self._user = _spec(exclude)
        self._noise = _spec(NOISE)
        self._use_gitignore = use_gitignore
        self._lock = threading.Lock()
        self._specs: dict[str, pathspec.GitIgnoreSpec | None] = {}

    def relative(self, path: str | os.PathLike[str]) -> str | None:
        """``path`` relative to the root (POSIX separators), or None when it lies outside."""
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            relative = candidate.resolve(strict=False).relative_to(self.root)
        except ValueError:
            try:
                relative = Path(os.path.abspath(candidate)).relative_to(self.root)
            except ValueError:
                return None
        return relative.as_posix()

    def excluded(self, path: str | os.PathLike[str], is_dir: bool = False) -> bool:
        """True when capture must ignore ``path``: outside the root, a secret, a user exclude,
        gitignored, or noise."""
        relative = self.relative(path)
        if relative is None:
            return True
        if relative in ("", "."):
            return False
        candidate = relative + "/" if is_dir else relative
        if _NEVER.match_file(candidate) or self._user.match_file(candidate):
            return True
        if self._noise.match_file(candidate):
            return True
        return self._use_gitignore and self._gitignored(candidate)

    def _gitignored(self, relative: str) -> bool:
        parts = PurePosixPath(relative.rstrip("/")).parts
        decision: bool | None = None
        # The root's rules (and .git/info/exclude), then each folder's, deeper ones win.
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth])
            spec = self._folder_spec(folder)
            if spec is None:
                continue
            rest = relative[len(folder) + 1 :] if folder else relative
            result = spec.check_file(rest)
            if result.include is not None:
                decision = result.include
        return bool(decision)

    def _folder_spec(self, folder: str) -> pathspec.GitIgnoreSpec | None:
        with self._lock:
            if folder in self._specs:
                return self._specs[folder]
        directory = self.root / folder if folder else self.root
        lines: list[str] = []
        sources = [directory / GITIGNORE]
        if not folder:
            sources.append(self.root / INFO_EXCLUDE)
        for source in sources:
            try:
                lines.extend(source.read_text(encoding="utf-8", errors="replace").splitlines())
            except OSError:
                continue
        spec = _spec(lines) if lines else None
        with self._lock:
            self._specs[folder] = spec
        return spec

    def invalidate(self, gitignore_path: str | os.PathLike[str] | None = None) -> None:
        """Forget cached ``.gitignore`` rules (of one file's folder, or all)."""
        with self._lock:
            if gitignore_path is None:
                self._specs.clear()
                return
            relative = self.relative(Path(gitignore_path).parent)
            if relative is None:
                return
            self._specs.pop("" if relative == "." else relative, None)
            if relative in ("", ".") or relative.startswith(".git"):
                self._specs.pop("", None)

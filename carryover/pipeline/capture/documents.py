"""Edits kept as compact diffs per save, and diagnostics before and after an edit.

:class:`DocumentTracker` is pure: the language server's handlers feed it what LSP says (open, change,
save, close, published diagnostics) and send the :class:`CapturedEvent` values it returns to the
sink. Keystrokes are folded into the tracked text; only a save produces an event, carrying a bounded
unified diff against the previous save (or the text as opened).

The payloads are :mod:`carryover.pipeline.events`' typed classes:

- :class:`~carryover.pipeline.events.DocumentSaved`: ``path`` relative to the workspace when inside
  it, ``added`` / ``removed`` line counts (also of lines cut from the diff), ``diff_truncated``,
  ``diagnostics_before`` (bounded). For a path the exclude filter matches (``.env``, key files, user
  globs) the diff is withheld: ``diff`` is empty, the counts are 0 and ``diff_withheld`` is true.
- :class:`~carryover.pipeline.events.DocumentClosed`: ``unsaved_changes``.
- :class:`~carryover.pipeline.events.DiagnosticsChanged`: ``errors`` / ``warnings`` counts,
  ``after_save`` (the first publication after a save of the document: the diagnostics *after* the
  edit). A publication identical to the previous one for the same document is not an event.

The limits are :mod:`carryover.vocabulary.output`'s.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs

from carryover.pipeline.events import (
    CapturedEvent,
    Diagnostic,
    DiagnosticsChanged,
    DocumentClosed,
    DocumentOpened,
    DocumentSaved,
    EventPayload,
    Position,
    Range,
    relative_to,
    uri_to_path,
)
from carryover.vocabulary import output

MAX_DIFF_LINES = output.DIFF_LINES
MAX_DIFF_CHARS = output.DIFF_CHARS
MAX_DIFF_INPUT_CHARS = output.DIFF_INPUT_CHARS
MAX_DIAGNOSTICS = output.DIAGNOSTICS_PER_DOCUMENT
MAX_MESSAGE_CHARS = output.MESSAGE_CHARS

__all__ = ["DocumentTracker", "bounded_diff", "relative_to", "uri_to_path", "workspace_of"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def workspace_of(path: str, workspaces: Sequence[str]) -> str:
    """The longest workspace root that contains ``path``, or "" when none does."""
    best = ""
    for root in workspaces:
        clean = root.rstrip("/") or "/"
        if (path == clean or path.startswith(clean.rstrip("/") + "/")) and len(clean) > len(best):
            best = clean
    return best


def bounded_diff(
    old: str,
    new: str,
    name: str,
    *,
    max_lines: int = MAX_DIFF_LINES,
    max_chars: int = MAX_DIFF_CHARS,
) -> tuple[str, int, int, bool]:
    """A unified diff (two lines of context) cut to ``max_lines`` / ``max_chars``.

    Returns ``(diff, added, removed, truncated)``; added/removed count every changed line, also
    those cut from the text.
    """
    if len(old) > MAX_DIFF_INPUT_CHARS or len(new) > MAX_DIFF_INPUT_CHARS:
        return f"(document too large to diff: {len(new)} characters)\n", 0, 0, True
    lines = list(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
            n=2,
        )
    )
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    out: list[str] = []
    size = 0
    truncated = False
    for raw in lines:
        line = raw if raw.endswith("\n") else raw + "\n\\ No newline at end of file\n"
        if len(out) >= max_lines or size + len(line) > max_chars:
            truncated = True
            break
        out.append(line)
        size += len(line)
    if truncated:
        out.append(f"... diff cut: {len(lines) - len(out)} more lines\n")
    return "".join(out), added, removed, truncated


def _get(item: Any, key: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


def _utf16_index(line: str, character: int) -> int:
    """The index into ``line`` of an LSP character offset counted in UTF-16 code units."""
    if character <= 0:
        return 0
    units = 0
    for index, char in enumerate(line):
        if units >= character:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
    return len(line)


def _offset(text: str, line_starts: list[int], position: Any) -> int:
    line = int(_get(position, "line") or 0)
    character = int(_get(position, "character") or 0)
    if line >= len(line_starts):
        return len(text)
    start = line_starts[line]
    end = line_starts[line + 1] - 1 if line + 1 < len(line_starts) else len(text)
    return start + _utf16_index(text[start:end], character)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    index = text.find("\n")
    while index != -1:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def apply_changes(text: str, changes: Sequence[Any]) -> str:
    """Apply LSP content changes (``{"range", "text"}`` or ``{"text"}``, dicts or lsprotocol
    objects) in order. Positions are UTF-16 code units, as LSP specifies by default."""
    for change in changes:
        new_text = _get(change, "text") or ""
        change_range = _get(change, "range")
        if change_range is None:
            text = new_text
            continue
        starts = _line_starts(text)
        start = _offset(text, starts, _get(change_range, "start"))
        end = _offset(text, starts, _get(change_range, "end"))
        if end < start:
            start, end = end, start
        text = text[:start] + new_text + text[end:]
    return text


def normalise_diagnostic(item: Any) -> Diagnostic:
    """A diagnostic (a dict or an lsprotocol object) as a :class:`Diagnostic`: plain range, severity
    (1 error … 4 hint), code, source, message (bounded)."""
    raw_range = _get(item, "range")
    start = _get(raw_range, "start") if raw_range is not None else None
    end = _get(raw_range, "end") if raw_range is not None else None

    def position(value: Any) -> Position:
        return Position(line=int(_get(value, "line") or 0), character=int(_get(value, "character") or 0))

    severity = _get(item, "severity")
    code = _get(item, "code")
    message = str(_get(item, "message") or "")
    return Diagnostic(
        range=Range(start=position(start), end=position(end)),
        severity=int(severity) if severity is not None else 1,
        code="" if code is None else str(code),
        source=str(_get(item, "source") or ""),
        message=message[:MAX_MESSAGE_CHARS],
    )


@attrs.define
class _Document:
    uri: str
    path: str
    workspace: str
    language_id: str
    version: int
    text: str
    saved_text: str
    excluded: bool
    saved_since_diagnostics: bool = False


class DocumentTracker:
    """Follows open documents and turns saves into bounded diffs.

    ``workspaces`` are the workspace roots (file system paths) or a function from a path to its
    workspace; ``exclude`` says whether a path's content must never be captured (see
    :class:`carryover.pipeline.capture.filters.PathFilter`). ``clock`` gives event times (naive UTC).
    Not thread-safe: call it from one thread (the LSP event loop).
    """

    def __init__(
        self,
        workspaces: Sequence[str] | Callable[[str], str] = (),
        exclude: Callable[[str], bool] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        source: str = "editor",
    ) -> None:
        if callable(workspaces):
            self._workspace_for: Callable[[str], str] = workspaces
        else:
            roots = list(workspaces)
            self._workspace_for = lambda path: workspace_of(path, roots)
        self._exclude = exclude or (lambda _path: False)
        self._clock = clock
        self._source = source
        self._documents: dict[str, _Document] = {}
        self._diagnostics: dict[str, tuple[Diagnostic, ...]] = {}
        self._after_save: set[str] = set()

    def text(self, uri: str) -> str | None:
        document = self._documents.get(uri)
        return None if document is None else document.text

    def _event(self, workspace: str, payload: EventPayload) -> CapturedEvent:
        return CapturedEvent(workspace=workspace, source=self._source, payload=payload, time=self._clock())

    def open(self, uri: str, language_id: str, version: int, text: str) -> list[CapturedEvent]:
        path = uri_to_path(uri)
        workspace = self._workspace_for(path)
        self._documents[uri] = _Document(
            uri=uri,
            path=path,
            workspace=workspace,
            language_id=language_id,
            version=version,
            text=text,
            saved_text=text,
            excluded=self._exclude(path),
        )
        payload = DocumentOpened(
            uri=uri, path=relative_to(path, workspace), language_id=language_id, version=version
        )
        return [self._event(workspace, payload)]

    def change(self, uri: str, version: int, changes: Sequence[Any]) -> list[CapturedEvent]:
        """Fold content changes into the tracked text. Never an event (keystrokes are not kept)."""
        document = self._documents.get(uri)
        if document is None:
            return []
        document.text = apply_changes(document.text, changes)
        document.version = version
        return []

    def save(self, uri: str, text: str | None = None) -> list[CapturedEvent]:
        """A save: the diff against the previous save. ``text`` is the saved content when the client
        sends it (``includeText``), else the tracked text is used."""
        document = self._documents.get(uri)
        if document is None:
            return []
        if text is not None:
            document.text = text
        if document.text == document.saved_text:
            return []
        name = relative_to(document.path, document.workspace)
        if document.excluded:
            diff, added, removed, truncated = "", 0, 0, False
        else:
            diff, added, removed, truncated = bounded_diff(document.saved_text, document.text, name)
        payload = DocumentSaved(
            uri=uri,
            path=name,
            language_id=document.language_id,
            version=document.version,
            diff=diff,
            added=added,
            removed=removed,
            diff_truncated=truncated,
            diff_withheld=document.excluded,
            diagnostics_before=tuple(self._diagnostics.get(uri, ())[:MAX_DIAGNOSTICS]),
        )
        document.saved_text = document.text
        self._after_save.add(uri)
        return [self._event(document.workspace, payload)]

    def close(self, uri: str) -> list[CapturedEvent]:
        document = self._documents.pop(uri, None)
        if document is None:
            return []
        self._after_save.discard(uri)
        payload = DocumentClosed(
            uri=uri,
            path=relative_to(document.path, document.workspace),
            language_id=document.language_id,
            version=document.version,
            unsaved_changes=document.text != document.saved_text,
        )
        return [self._event(document.workspace, payload)]

    def diagnostics(
        self, uri: str, diagnostics: Sequence[Any], source: str = "editor"
    ) -> list[CapturedEvent]:
        """Diagnostics published for ``uri`` (by the editor or another tool)."""
        items = tuple(normalise_diagnostic(item) for item in diagnostics[:MAX_DIAGNOSTICS])
        key = f"{source}\x1f{uri}"
        if self._diagnostics.get(key) == items:
            return []
        self._diagnostics[key] = items
        self._diagnostics[uri] = items
        document = self._documents.get(uri)
        path = document.path if document is not None else uri_to_path(uri)
        workspace = document.workspace if document is not None else self._workspace_for(path)
        after_save = uri in self._after_save
        self._after_save.discard(uri)
        payload = DiagnosticsChanged(
            uri=uri,
            path=relative_to(path, workspace),
            source=source,
            diagnostics=items,
            errors=sum(1 for item in items if item.severity == 1),
            warnings=sum(1 for item in items if item.severity == 2),
            after_save=after_save,
        )
        return [self._event(workspace, payload)]

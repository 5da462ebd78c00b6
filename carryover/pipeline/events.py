"""The seam between the editor features and capture: typed events, one codec, and a sink that records
them.

Every event type has one payload class (attrs, frozen); ``CapturedEvent.payload`` is one of them and
``CapturedEvent.type`` is the payload's ``TYPE``. Payloads are written and read through one codec
(:func:`encode` / :func:`decode`, a cattrs converter): field names are the stored JSON keys, values are
checked strictly at both ends (a string where a count belongs, an unknown event type, a payload that
is not a JSON object) and a bad one raises :class:`MalformedEvent`, never reads as empty.

Event types and their payloads:

- ``document.opened`` :class:`DocumentOpened`: uri, path (relative to the workspace when inside it),
  language_id, version.
- ``document.saved`` :class:`DocumentSaved`: also ``diff`` (unified diff against the last save,
  bounded), ``added`` / ``removed`` (line counts, also of lines cut from the diff), ``diff_truncated``,
  ``diff_withheld`` (a secret or excluded path: ``diff`` is empty), ``diagnostics_before`` (what was
  published for the document when it was saved: what the edit was meant to fix).
- ``document.closed`` :class:`DocumentClosed`: also ``unsaved_changes``.
- ``diagnostics.changed`` :class:`DiagnosticsChanged`: uri, path, source ("editor" or the forwarding
  tool's name), diagnostics (:class:`Diagnostic`: range, severity, code, source, message), errors,
  warnings, after_save (the first publication after a save of the document).
- ``terminal.started`` :class:`TerminalStarted`: command, cwd, terminal_id, execution_id.
- ``terminal.ended`` :class:`TerminalEnded`: also exit_code, started_at, ended_at, output_head,
  output_tail (each bounded, decoded as UTF-8 with replacement), output_truncated.
- ``file.changed_externally`` :class:`FileChanged`: path, change ("created" | "modified" | "deleted"
  | "moved" | "bulk"), ``from`` (a move's old path), and for "bulk" ``count`` and a sample of ``paths``.
- ``shell.command`` :class:`ShellCommand`: command, cwd, exit_code, shell (from the shell hook's log);
  started_at and ended_at when the shell knows them.

Times are naive UTC (stored as ISO 8601). Rows written before the payloads were typed (the editor's
first capture stored saves without ``path`` or line counts) are read through :func:`_upgrade`, which
fills what those rows lacked from what they have (path from the uri, counts from the diff).

Every event may carry an ``id``: capture sources that can re-send the same event (the shell log
follower after a restart) give a stable one so that the pool stores it once; otherwise the sink makes
one.
"""

from __future__ import annotations

import json
import os
import time as _time
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeAlias

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from typing_extensions import TypeVar

DOCUMENT_OPENED = "document.opened"
DOCUMENT_SAVED = "document.saved"
DOCUMENT_CLOSED = "document.closed"
DIAGNOSTICS_CHANGED = "diagnostics.changed"
TERMINAL_STARTED = "terminal.started"
TERMINAL_ENDED = "terminal.ended"
FILE_CHANGED = "file.changed_externally"
SHELL_COMMAND = "shell.command"

EVENT_TYPES = (
    DOCUMENT_OPENED,
    DOCUMENT_SAVED,
    DOCUMENT_CLOSED,
    DIAGNOSTICS_CHANGED,
    TERMINAL_STARTED,
    TERMINAL_ENDED,
    FILE_CHANGED,
    SHELL_COMMAND,
)

ERROR = 1
WARNING = 2


class MalformedEvent(ValueError):
    """A payload that is not what its event type says: an unknown type, a stored payload that is not
    JSON or not an object, a missing field or a value of the wrong type."""

    def __init__(self, message: str, *, event_type: str = "", event_id: str = "") -> None:
        where = " ".join(part for part in (event_type, event_id) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.event_type = event_type
        self.event_id = event_id
        self.reason = message


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------------------------------
# Payloads
# --------------------------------------------------------------------------------------------------


@attrs.frozen
class Position:
    line: int
    character: int


@attrs.frozen
class Range:
    start: Position
    end: Position


@attrs.frozen
class Diagnostic:
    """One published diagnostic: severity 1 error … 4 hint, message bounded."""

    range: Range
    severity: int
    code: str
    source: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


@attrs.frozen
class DocumentOpened:
    TYPE: ClassVar[str] = DOCUMENT_OPENED
    uri: str
    path: str
    language_id: str
    version: int | None


@attrs.frozen
class DocumentSaved:
    TYPE: ClassVar[str] = DOCUMENT_SAVED
    uri: str
    path: str
    language_id: str
    version: int | None
    diff: str
    added: int
    removed: int
    diff_truncated: bool
    diff_withheld: bool
    diagnostics_before: tuple[Diagnostic, ...]


@attrs.frozen
class DocumentClosed:
    TYPE: ClassVar[str] = DOCUMENT_CLOSED
    uri: str
    path: str
    language_id: str
    version: int | None
    unsaved_changes: bool


@attrs.frozen
class DiagnosticsChanged:
    TYPE: ClassVar[str] = DIAGNOSTICS_CHANGED
    uri: str
    path: str
    source: str
    diagnostics: tuple[Diagnostic, ...]
    errors: int
    warnings: int
    after_save: bool


@attrs.frozen
class TerminalStarted:
    TYPE: ClassVar[str] = TERMINAL_STARTED
    command: str
    cwd: str
    terminal_id: str
    execution_id: str


@attrs.frozen
class TerminalEnded:
    TYPE: ClassVar[str] = TERMINAL_ENDED
    command: str
    cwd: str
    terminal_id: str
    execution_id: str
    exit_code: int | None
    started_at: datetime
    ended_at: datetime
    output_head: str
    output_tail: str
    output_truncated: bool

    @property
    def output(self) -> str:
        """Head and tail together (the tail is empty when the whole output fit in the head)."""
        return f"{self.output_head}\n{self.output_tail}" if self.output_tail else self.output_head


Change = Literal["created", "modified", "deleted", "moved", "bulk"]


@attrs.frozen
class FileChanged:
    TYPE: ClassVar[str] = FILE_CHANGED
    path: str
    change: Change
    from_path: str = ""  # stored as "from"
    count: int = 0
    paths: tuple[str, ...] = ()


@attrs.frozen
class ShellCommand:
    TYPE: ClassVar[str] = SHELL_COMMAND
    command: str
    cwd: str
    exit_code: int | None
    shell: str
    started_at: datetime | None = None
    ended_at: datetime | None = None


EventPayload: TypeAlias = (
    DocumentOpened
    | DocumentSaved
    | DocumentClosed
    | DiagnosticsChanged
    | TerminalStarted
    | TerminalEnded
    | FileChanged
    | ShellCommand
)
CommandPayload: TypeAlias = TerminalEnded | ShellCommand
DocumentPayload: TypeAlias = DocumentOpened | DocumentSaved | DocumentClosed

PAYLOAD_CLASSES: dict[str, type[EventPayload]] = {
    cls.TYPE: cls
    for cls in (
        DocumentOpened,
        DocumentSaved,
        DocumentClosed,
        DiagnosticsChanged,
        TerminalStarted,
        TerminalEnded,
        FileChanged,
        ShellCommand,
    )
}

P_co = TypeVar("P_co", bound=EventPayload, default=EventPayload, covariant=True)


def _check_payload(_instance: Any, _attribute: Any, value: Any) -> None:
    if type(value) not in _PAYLOAD_SET:
        raise MalformedEvent(f"a payload must be an event payload class, not {type(value).__name__}")


@attrs.frozen
class CapturedEvent(Generic[P_co]):
    """One captured event; its type is its payload's."""

    workspace: str
    source: str  # "editor" | "terminal" | "watcher" | "shell-hook"
    payload: P_co = attrs.field(validator=_check_payload)
    time: datetime = attrs.field(factory=_utcnow)
    id: str | None = None

    @property
    def type(self) -> str:
        return self.payload.TYPE


_PAYLOAD_SET = frozenset(PAYLOAD_CLASSES.values())


def new_event_id(when: datetime | None = None) -> str:
    """A fresh id that sorts by time: ``evt_`` + microseconds since the epoch (hex) + randomness."""
    micros = int((when or _utcnow()).replace(tzinfo=timezone.utc).timestamp() * 1_000_000)
    if micros <= 0:
        micros = _time.time_ns() // 1000
    return f"evt_{micros:014x}{os.urandom(5).hex()}"


class EventSink(Protocol):
    """Takes events from the editor features. ``record`` must return at once (it runs on the LSP
    event loop): redaction and storage happen in the background. Thread-safe."""

    def record(self, event: CapturedEvent) -> None: ...

    def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until every event recorded so far is persisted (tests, shutdown)."""
        ...


# --------------------------------------------------------------------------------------------------
# The codec
# --------------------------------------------------------------------------------------------------


def _strict(kind: type[Any], name: str) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _type: Any) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"expected {name}, got {type(value).__name__} {str(value)[:40]!r}")
        return value

    return structure


def _structure_time(value: Any, _type: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 time, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo is not None else parsed


def _tuple_of(item: type[Any]) -> Callable[[Any, Any], tuple[Any, ...]]:
    def structure(value: Any, _type: Any) -> tuple[Any, ...]:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return tuple(_converter.structure(element, item) for element in value)

    return structure


def _is_tuple_of(item: type[Any]) -> Callable[[Any], bool]:
    sequence = tuple[item, ...]  # type: ignore[valid-type]

    def predicate(cls: Any) -> bool:
        return bool(cls == sequence)

    return predicate


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False)
    converter.register_structure_hook(str, _strict(str, "a string"))
    converter.register_structure_hook(int, _strict(int, "an integer"))
    converter.register_structure_hook(bool, _strict(bool, "true or false"))
    converter.register_structure_hook(datetime, _structure_time)
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    for item in (Diagnostic, str):
        converter.register_structure_hook_func(_is_tuple_of(item), _tuple_of(item))
    renamed = override(rename="from")
    converter.register_structure_hook(
        FileChanged, make_dict_structure_fn(FileChanged, converter, from_path=renamed)
    )
    converter.register_unstructure_hook(
        FileChanged, make_dict_unstructure_fn(FileChanged, converter, from_path=renamed)
    )
    return converter


_converter = _make_converter()


def _describe(error: Exception) -> str:
    if isinstance(error, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(error, path="payload"))[:500]
    return f"{type(error).__name__}: {error}"[:500]


def payload_class(event_type: str) -> type[EventPayload]:
    cls = PAYLOAD_CLASSES.get(event_type)
    if cls is None:
        raise MalformedEvent(f"unknown event type {event_type!r}", event_type=event_type)
    return cls


def to_dict(payload: EventPayload) -> dict[str, Any]:
    """The stored form of ``payload`` as a JSON-ready dict (times as ISO 8601)."""
    if type(payload) not in _PAYLOAD_SET:
        raise MalformedEvent(f"not an event payload: {type(payload).__name__}")
    data: dict[str, Any] = _converter.unstructure(payload)
    return data


def from_dict(event_type: str, data: Mapping[str, Any], *, workspace: str = "") -> EventPayload:
    """The payload of ``event_type`` read from its stored dict (older rows upgraded first); raises
    :class:`MalformedEvent`."""
    cls = payload_class(event_type)
    if not isinstance(data, Mapping):
        raise MalformedEvent(f"the payload is a {type(data).__name__}, not an object", event_type=event_type)
    try:
        upgraded = _upgrade(event_type, dict(data), workspace)
        payload: EventPayload = _converter.structure(upgraded, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError, AttributeError) as error:
        raise MalformedEvent(_describe(error), event_type=event_type) from error
    return payload


def validate(payload: EventPayload) -> EventPayload:
    """``payload`` checked field by field as :func:`decode` would read it back (a producer's wrong
    value is caught before it is stored, not when it is read)."""
    data = to_dict(payload)
    try:
        checked: EventPayload = _converter.structure(data, type(payload))
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError, AttributeError) as error:
        raise MalformedEvent(_describe(error), event_type=payload.TYPE) from error
    return checked


def encode(payload: EventPayload) -> str:
    """The stored JSON of ``payload`` (validated first; keys sorted)."""
    validate(payload)
    return json.dumps(to_dict(payload), ensure_ascii=False, sort_keys=True)


def decode(event_type: str, text: str, *, workspace: str = "") -> EventPayload:
    """The payload of a stored ``event_type`` row; raises :class:`MalformedEvent` for an unknown type,
    text that is not a JSON object, or a field that is missing or of the wrong type."""
    payload_class(event_type)
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as error:
        raise MalformedEvent(f"the payload is not JSON ({error})", event_type=event_type) from error
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise MalformedEvent(f"the payload is a JSON {kind}, not an object", event_type=event_type)
    return from_dict(event_type, data, workspace=workspace)


# --------------------------------------------------------------------------------------------------
# Rows stored before the payloads were typed
# --------------------------------------------------------------------------------------------------


def uri_to_path(uri: str) -> str:
    """The file system path of a ``file:`` URI (other URIs are returned as they are)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme != "file":
        return uri
    path = urllib.parse.unquote(parts.path)
    if len(path) >= 3 and path[0] == "/" and path[2] == ":":  # file:///C:/x on Windows
        path = path[1:]
    return path


def relative_to(path: str, workspace: str) -> str:
    """``path`` relative to ``workspace`` when inside it, else as it is."""
    if workspace and (path == workspace or path.startswith(workspace.rstrip("/") + "/")):
        relative = path[len(workspace.rstrip("/")) + 1 :]
        return relative or PurePosixPath(path).name
    return path


def _count(diff: Any, sign: str) -> int:
    if not isinstance(diff, str):
        return 0
    return sum(1 for line in diff.splitlines() if line.startswith(sign) and not line.startswith(sign * 3))


def _upgrade_diagnostic(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    item = dict(item)
    if item.get("severity") is None:
        item["severity"] = ERROR
    code = item.get("code")
    item["code"] = "" if code is None else str(code) if isinstance(code, (int, float)) else code
    item.setdefault("source", "")
    if item["source"] is None:
        item["source"] = ""
    item.setdefault("message", "")
    item.setdefault("range", {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}})
    return item


def _upgrade(event_type: str, data: dict[str, Any], workspace: str) -> dict[str, Any]:
    """Fill what rows written by earlier versions lack, from what they have. Nothing is invented where
    the row says nothing: a missing command or time stays missing (and the row is malformed)."""
    if event_type.startswith("document."):
        uri = data.get("uri")
        if "path" not in data and isinstance(uri, str):
            data["path"] = relative_to(uri_to_path(uri), workspace)
        data.setdefault("language_id", "")
        data.setdefault("version", None)
        if event_type == DOCUMENT_SAVED:
            diff = data.setdefault("diff", "")
            data.setdefault("added", _count(diff, "+"))
            data.setdefault("removed", _count(diff, "-"))
            data.setdefault("diff_truncated", False)
            data.setdefault("diff_withheld", False)
            before = data.setdefault("diagnostics_before", [])
            if isinstance(before, list):
                data["diagnostics_before"] = [_upgrade_diagnostic(item) for item in before]
        elif event_type == DOCUMENT_CLOSED:
            data.setdefault("unsaved_changes", False)
    elif event_type == DIAGNOSTICS_CHANGED:
        uri = data.get("uri")
        if "path" not in data and isinstance(uri, str):
            data["path"] = relative_to(uri_to_path(uri), workspace)
        if "uri" not in data and isinstance(data.get("path"), str):
            data["uri"] = data["path"]
        data.setdefault("source", "editor")
        items = data.setdefault("diagnostics", [])
        if isinstance(items, list):
            items = data["diagnostics"] = [_upgrade_diagnostic(item) for item in items]
            severities = [item.get("severity") for item in items if isinstance(item, dict)]
            data.setdefault("errors", severities.count(ERROR))
            data.setdefault("warnings", severities.count(WARNING))
        data.setdefault("after_save", False)
    elif event_type in (TERMINAL_STARTED, TERMINAL_ENDED):
        data.setdefault("cwd", "")
        data.setdefault("terminal_id", "")
        data.setdefault("execution_id", "")
        if event_type == TERMINAL_ENDED:
            data.setdefault("exit_code", None)
            if data.get("started_at") is None and "ended_at" in data:
                data["started_at"] = data["ended_at"]
            data.setdefault("output_head", "")
            data.setdefault("output_tail", "")
            data.setdefault("output_truncated", False)
    elif event_type == SHELL_COMMAND:
        data.setdefault("cwd", "")
        data.setdefault("exit_code", None)
        data.setdefault("shell", "")
    return data

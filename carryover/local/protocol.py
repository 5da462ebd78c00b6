"""What the command line and a daemon say to each other over the pool's local socket.

One connection carries one request and one answer, each one line of JSON (UTF-8, ending in a line
break; JSON never has a raw line break inside, so the line is the frame). The request names a read
command and its arguments as the command line parsed them (``--output @FILE`` already read by the
client: the daemon never opens the caller's files), and the digest of the caller's pool
configuration. The answer is what the command printed and its exit status, or ``unavailable`` with
the reason (the caller then runs the command itself):

    {"version": 1, "command": "search", "config": "<sha256>", "search": {"query": "...", ...}}
    {"version": 1, "stdout": "...", "stderr": "", "code": 0}
    {"version": 1, "unavailable": "the pool is still opening"}
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from carryover.pool.config import StoreConfig

VERSION = 1
SOCKET_DIR = ".daemon"
"""The directory in the pool that holds the socket (mode 0700)."""
SOCKET_NAME = "carryover.sock"
"""The socket (mode 0600)."""
OWNER_LOCK = "owner.lock"
"""Held (flock) by the daemon that serves the socket: the first one on a pool; others do not."""
MAX_REQUEST = 4 * 2**20
MAX_ANSWER = 256 * 2**20
COMMANDS = ("search", "show", "list")


class ProtocolError(ValueError):
    """A line that is not a request or an answer of this protocol."""


@attrs.frozen
class SearchArgs:
    query: str
    language: str | None = None
    diagnostics: tuple[str, ...] = ()
    failed_command: str | None = None
    output: str = ""
    """The failing command's output, already read (text, file or stdin) by the caller."""
    kinds: tuple[str, ...] = ()
    workspace: str | None = None
    k: int = 3
    min_score: float | None = None
    json: bool = False


@attrs.frozen
class ShowArgs:
    id: str
    json: bool = False


@attrs.frozen
class ListArgs:
    kind: str | None = None
    status: str | None = None
    limit: int | None = None
    json: bool = False


ReadArgs = SearchArgs | ShowArgs | ListArgs
_COMMAND_OF: dict[type[Any], str] = {SearchArgs: "search", ShowArgs: "show", ListArgs: "list"}


@attrs.frozen
class ReadRequest:
    args: ReadArgs
    config: str
    """``config_digest`` of the caller's pool configuration: a daemon with another answers unavailable."""

    @property
    def command(self) -> str:
        return _COMMAND_OF[type(self.args)]


@attrs.frozen
class Answer:
    """What a read command printed, and its exit status."""

    stdout: str = ""
    stderr: str = ""
    code: int = 0


@attrs.frozen
class Unavailable:
    """The daemon cannot answer this one (another configuration, its pool not open): run it here."""

    reason: str


def config_digest(config: StoreConfig) -> str:
    """sha256 of everything that decides a read command's answer (embedder, ranking, pool), with the
    pool's directory made absolute. Never ``hash()``: two processes compare it."""
    raw = attrs.asdict(config, recurse=True)
    raw["pool_dir"] = os.path.abspath(config.pool_dir)
    raw["home"] = os.path.abspath(config.home)
    text = json.dumps(raw, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def socket_dir(pool_dir: Path) -> Path:
    return pool_dir / SOCKET_DIR


def socket_path(pool_dir: Path) -> Path:
    return socket_dir(pool_dir) / SOCKET_NAME


# ----- the wire ------------------------------------------------------------------------------------


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def encode_request(request: ReadRequest) -> bytes:
    return _line(
        {
            "version": VERSION,
            "command": request.command,
            "config": request.config,
            request.command: attrs.asdict(request.args),
        }
    )


def _object(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ProtocolError(f"the {what} is not JSON: {error}") from error
    if not isinstance(value, dict):
        raise ProtocolError(f"the {what} is not a JSON object")
    if value.get("version") != VERSION:
        raise ProtocolError(f"the {what} is of protocol version {value.get('version')!r}, not {VERSION}")
    return value


def _typed(value: Any, kind: type[Any] | tuple[type[Any], ...], name: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ProtocolError(f"{name} has the wrong type ({type(value).__name__})")
    return value


def _strings(value: Any, name: str) -> tuple[str, ...]:
    items = _typed(value, list, name)
    return tuple(_typed(item, str, f"{name}[]") for item in items)


def _optional(value: Any, kind: type[Any] | tuple[type[Any], ...], name: str) -> Any:
    return None if value is None else _typed(value, kind, name)


def _args(command: str, raw: Any) -> ReadArgs:
    fields = _typed(raw, dict, command)
    cls: type[Any] = {"search": SearchArgs, "show": ShowArgs, "list": ListArgs}[command]
    known = {field.name for field in attrs.fields(cls)}
    extra = sorted(set(fields) - known)
    if extra:
        raise ProtocolError(f"unknown {command} arguments: {', '.join(extra)}")
    flag = bool(_typed(fields.get("json", False), bool, "json"))
    if cls is SearchArgs:
        min_score = _optional(fields.get("min_score"), (int, float), "min_score")
        return SearchArgs(
            query=_typed(fields.get("query"), str, "query"),
            language=_optional(fields.get("language"), str, "language"),
            diagnostics=_strings(fields.get("diagnostics", []), "diagnostics"),
            failed_command=_optional(fields.get("failed_command"), str, "failed_command"),
            output=_typed(fields.get("output", ""), str, "output"),
            kinds=_strings(fields.get("kinds", []), "kinds"),
            workspace=_optional(fields.get("workspace"), str, "workspace"),
            k=_typed(fields.get("k", 3), int, "k"),
            min_score=None if min_score is None else float(min_score),
            json=flag,
        )
    if cls is ShowArgs:
        return ShowArgs(id=_typed(fields.get("id"), str, "id"), json=flag)
    return ListArgs(
        kind=_optional(fields.get("kind"), str, "kind"),
        status=_optional(fields.get("status"), str, "status"),
        limit=_optional(fields.get("limit"), int, "limit"),
        json=flag,
    )


def decode_request(line: bytes) -> ReadRequest:
    value = _object(line, "request")
    command = value.get("command")
    if command not in COMMANDS:
        raise ProtocolError(f"unknown command {command!r}")
    extra = sorted(set(value) - {"version", "command", "config", command})
    if extra:
        raise ProtocolError(f"unknown request fields: {', '.join(extra)}")
    return ReadRequest(
        args=_args(command, value.get(command)), config=_typed(value.get("config"), str, "config")
    )


def encode_answer(answer: Answer | Unavailable) -> bytes:
    if isinstance(answer, Unavailable):
        return _line({"version": VERSION, "unavailable": answer.reason})
    return _line({"version": VERSION, **attrs.asdict(answer)})


def decode_answer(line: bytes) -> Answer | Unavailable:
    value = _object(line, "answer")
    if "unavailable" in value:
        return Unavailable(str(value["unavailable"]))
    return Answer(
        stdout=_typed(value.get("stdout"), str, "stdout"),
        stderr=_typed(value.get("stderr", ""), str, "stderr"),
        code=_typed(value.get("code"), int, "code"),
    )

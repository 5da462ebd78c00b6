"""Terminal commands as events: bounded, decoded output.

A command's output may be megabytes, binary, or invalid UTF-8. Only a head and a tail are kept
(what a person reads: the first lines and the summary at the end). Bytes are decoded as UTF-8 with
replacement; ANSI escape sequences and carriage-return progress redraws are removed; output that
looks binary (NUL bytes or mostly control characters) is replaced by a one-line note.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from carryover.pipeline.events import CapturedEvent, TerminalEnded, TerminalStarted
from carryover.vocabulary import output as limits

HEAD_CHARS = limits.OUTPUT_HEAD_CHARS
TAIL_CHARS = limits.OUTPUT_TAIL_CHARS
_SNIFF_BYTES = 4096

_ANSI = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]             # CSI: colours, cursor movement
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)   # OSC: titles, hyperlinks, shell integration marks
    | \x1b[PX^_][^\x1b]*\x1b\\            # DCS, SOS, PM, APC
    | \x1b[@-Z\\-_]                       # two-byte sequences
    """,
    re.VERBOSE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def looks_binary(data: bytes) -> bool:
    """NUL bytes, or more than 30 % control bytes in the first 4 KiB (not counting tab, CR, LF, ESC)."""
    sample = data[:_SNIFF_BYTES]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 13, 27))
    return control / len(sample) > 0.30


def clean_text(text: str) -> str:
    """Remove ANSI sequences, resolve carriage-return redraws (keep what was drawn last on each
    line), drop other control characters."""
    text = _ANSI.sub("", text)
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        text = "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line else line for line in text.split("\n"))
    return _CONTROL.sub("", text)


def decode(data: bytes | str) -> str:
    """Text of ``data``: UTF-8 with replacement characters, cleaned. Binary data becomes a note."""
    if isinstance(data, str):
        return clean_text(data)
    if looks_binary(data):
        return f"[binary output: {len(data)} bytes]"
    return clean_text(data.decode("utf-8", errors="replace"))


def _cut_head(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    newline = cut.rfind("\n")
    return cut[: newline + 1] if newline > limit // 2 else cut


def _cut_tail(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < limit // 2 else cut


def bound_output(
    data: bytes | str | None, head_chars: int = HEAD_CHARS, tail_chars: int = TAIL_CHARS
) -> tuple[str, str, bool]:
    """``(head, tail, truncated)`` of a command's output. When everything fits, it is all in
    ``head`` and ``tail`` is empty. Huge byte strings are sliced before decoding."""
    if data is None:
        return "", "", False
    if isinstance(data, bytes):
        if looks_binary(data):
            return f"[binary output: {len(data)} bytes]", "", False
        limit = (head_chars + tail_chars) * 4
        if len(data) > limit:
            head = decode(data[: head_chars * 4]).rstrip("\ufffd")
            tail = decode(data[-tail_chars * 4 :]).lstrip("\ufffd")
            return _cut_head(head, head_chars), _cut_tail(tail, tail_chars), True
    text = decode(data)
    if len(text) <= head_chars + tail_chars:
        return text, "", False
    return _cut_head(text, head_chars), _cut_tail(text, tail_chars), True


class OutputBuffer:
    """Collects a command's output as it streams, keeping only a head and a tail (bytes or str
    chunks; a chunk may end inside a UTF-8 sequence)."""

    def __init__(self, head_chars: int = HEAD_CHARS, tail_chars: int = TAIL_CHARS) -> None:
        self.head_chars = head_chars
        self.tail_chars = tail_chars
        self._head = bytearray()
        self._tail = bytearray()
        self.total_bytes = 0
        self._binary: bool | None = None

    def feed(self, chunk: bytes | str) -> None:
        data = chunk.encode("utf-8", errors="surrogateescape") if isinstance(chunk, str) else chunk
        if not data:
            return
        if self._binary is None:
            self._binary = looks_binary(data)
        self.total_bytes += len(data)
        head_limit = self.head_chars * 4
        if len(self._head) < head_limit:
            room = head_limit - len(self._head)
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            tail_limit = self.tail_chars * 4
            if len(self._tail) > tail_limit * 2:
                del self._tail[: len(self._tail) - tail_limit]

    def result(self) -> tuple[str, str, bool]:
        """``(head, tail, truncated)``, as :func:`bound_output` gives them."""
        if self._binary:
            return f"[binary output: {self.total_bytes} bytes]", "", False
        if not self._tail:
            return bound_output(bytes(self._head), self.head_chars, self.tail_chars)
        head = decode(bytes(self._head)).rstrip("\ufffd")
        tail = decode(bytes(self._tail)).lstrip("\ufffd")
        whole = len(self._head) + len(self._tail) == self.total_bytes
        if whole and len(head) + len(tail) <= self.head_chars + self.tail_chars:
            return head + tail, "", False
        return _cut_head(head, self.head_chars), _cut_tail(tail, self.tail_chars), True


def terminal_started_event(
    command: str,
    cwd: str,
    *,
    workspace: str,
    terminal_id: str = "",
    execution_id: str = "",
    time: datetime | None = None,
    source: str = "terminal",
) -> CapturedEvent[TerminalStarted]:
    payload = TerminalStarted(command=command, cwd=cwd, terminal_id=terminal_id, execution_id=execution_id)
    return CapturedEvent(workspace=workspace, source=source, payload=payload, time=time or _utcnow())


def terminal_event(
    command: str,
    cwd: str,
    exit_code: int | None,
    output: bytes | str | OutputBuffer | None = None,
    *,
    workspace: str,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    terminal_id: str = "",
    execution_id: str = "",
    output_head: bytes | str | None = None,
    output_tail: bytes | str | None = None,
    source: str = "terminal",
    head_chars: int = HEAD_CHARS,
    tail_chars: int = TAIL_CHARS,
) -> CapturedEvent[TerminalEnded]:
    """A ``terminal.ended`` event. Give either the whole ``output`` (bytes, str or an
    :class:`OutputBuffer`) or an already split ``output_head`` / ``output_tail`` (e.g. from the
    editor, which may cap output itself); both are bounded and decoded here."""
    if isinstance(output, OutputBuffer):
        head, tail, truncated = output.result()
    elif output is not None:
        head, tail, truncated = bound_output(output, head_chars, tail_chars)
    else:
        head, head_cut = _bounded_part(output_head, head_chars, from_start=True)
        tail, tail_cut = _bounded_part(output_tail, tail_chars, from_start=False)
        truncated = head_cut or tail_cut or bool(head and tail)
    ended = ended_at or _utcnow()
    payload = TerminalEnded(
        command=command,
        cwd=cwd,
        terminal_id=terminal_id,
        execution_id=execution_id,
        exit_code=exit_code,
        started_at=started_at or ended,
        ended_at=ended,
        output_head=head,
        output_tail=tail,
        output_truncated=truncated,
    )
    return CapturedEvent(workspace=workspace, source=source, payload=payload, time=ended)


def _bounded_part(data: bytes | str | None, limit: int, *, from_start: bool) -> tuple[str, bool]:
    if data is None:
        return "", False
    text = decode(data)
    if len(text) <= limit:
        return text, False
    return (_cut_head(text, limit) if from_start else _cut_tail(text, limit)), True

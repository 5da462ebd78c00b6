"""Log records of Carryover's loggers, forwarded to the client with window/logMessage at the level the
user chose (setting ``logLevel``). Records may come from any thread; they are sent from the loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from lsprotocol import types as lsp

FORWARDED_LOGGERS = ("carryover",)
FORWARDED_ATTRIBUTE = "carryover_sent_to_client"
"""Set on a record once it went to the client, so that stderr (which the client shows in the same
channel) does not print it a second time: see :func:`not_sent_to_client`."""


def not_sent_to_client(record: logging.LogRecord) -> bool:
    """A filter for the stderr handler: only the records the client did not receive."""
    return not getattr(record, FORWARDED_ATTRIBUTE, False)


LEVELS = {
    "off": logging.CRITICAL + 10,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}


def message_type(levelno: int) -> lsp.MessageType:
    if levelno >= logging.ERROR:
        return lsp.MessageType.Error
    if levelno >= logging.WARNING:
        return lsp.MessageType.Warning
    if levelno >= logging.INFO:
        return lsp.MessageType.Info
    return lsp.MessageType.Log


class ClientLogHandler(logging.Handler):
    def __init__(self, send: Callable[[lsp.LogMessageParams], None], level: str = "info") -> None:
        super().__init__(logging.DEBUG)
        self._send = send
        self._loop: asyncio.AbstractEventLoop | None = None
        self._base_levels: dict[str, int] = {}
        self.threshold = LEVELS[level]
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def set_level_name(self, level: str) -> None:
        self.threshold = LEVELS.get(level, logging.INFO)
        self._sync_levels()

    def _sync_levels(self) -> None:
        # A logger drops records below its own level before any handler sees them: lower it to what
        # the client wants (the stderr handler keeps filtering at --log-level).
        for name, base in self._base_levels.items():
            logging.getLogger(name).setLevel(min(base, self.threshold))

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        for name in FORWARDED_LOGGERS:
            logger = logging.getLogger(name)
            self._base_levels.setdefault(name, logger.getEffectiveLevel())
            logger.addHandler(self)
        self._sync_levels()

    def detach(self) -> None:
        for name in FORWARDED_LOGGERS:
            logging.getLogger(name).removeHandler(self)
        self._loop = None

    def emit(self, record: logging.LogRecord) -> None:
        loop = self._loop
        if loop is None or record.levelno < self.threshold or loop.is_closed():
            return
        try:
            params = lsp.LogMessageParams(type=message_type(record.levelno), message=self.format(record))
            loop.call_soon_threadsafe(self._deliver, params)
        except RuntimeError:  # the loop closed in between
            return
        setattr(record, FORWARDED_ATTRIBUTE, True)

    def _deliver(self, params: lsp.LogMessageParams) -> None:
        with contextlib.suppress(Exception):
            self._send(params)

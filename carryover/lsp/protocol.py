"""pygls' LSP protocol with two changes: Carryover's custom notifications are typed, and a request
whose params do not match its type is answered with InvalidParams (-32602).

pygls 2.1 raises InvalidParams while deserialising such a request but never answers it, so the
client would wait forever; here the answer is sent and the request dropped. A malformed
notification is logged and dropped (notifications have no answer).
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

import cattrs
from pygls.exceptions import JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol

from carryover.lsp.wire import CUSTOM_NOTIFICATIONS

logger = logging.getLogger(__name__)


_CUSTOM_TYPES = frozenset(CUSTOM_NOTIFICATIONS.values())


class _Answered:
    """Stands for a message that has been dealt with while it was deserialised."""


ANSWERED = _Answered()


def _detail(error: BaseException) -> str:
    cause = error.__cause__
    if isinstance(cause, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(cause, path="params"))
    return str(cause or error)


class CarryoverProtocol(LanguageServerProtocol):
    def get_message_type(self, method: str) -> type[Any] | None:  # type: ignore[override]  # lru_cache in base
        custom = CUSTOM_NOTIFICATIONS.get(method)
        if custom is not None:
            return custom
        found: type[Any] | None = super().get_message_type(method)
        return found

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcInvalidParams as error:
            method = data.get("method", "")
            detail = _detail(error)
            if "id" in data and method:
                logger.warning("invalid params for %s: %s", method, detail)
                self._send_response(
                    data["id"],
                    error=JsonRpcInvalidParams(message=f"Invalid params: {detail}").to_response_error(),
                )
                return ANSWERED
            if method:
                logger.warning("dropped a malformed %s notification: %s", method, detail)
                return ANSWERED
            raise

    def handle_message(self, message: Any) -> None:
        if message is ANSWERED:
            return
        if type(message) in _CUSTOM_TYPES and not self._shutdown:
            # The hot path (a busy terminal sends hundreds a second): pygls would first test the
            # message against its runtime-checkable protocols, which costs more than handling it.
            contextvars.copy_context().run(self._handle_notification, message.method, message.params)
            return
        super().handle_message(message)

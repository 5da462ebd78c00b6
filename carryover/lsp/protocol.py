"""pygls' LSP protocol, answering every bad message as JSON-RPC 2.0 says, in one log line each.

- ``envelope_error``: what is not a JSON-RPC 2.0 message (not an object, no/wrong ``jsonrpc``, a
  request without a string ``method``, a bad ``id`` or ``params``) is Invalid Request (-32600),
  answered with the message's id when it has a usable one, else null (transport.py calls it).
- A request whose params do not fit its type is answered with InvalidParams (-32602); pygls 2.1
  raises that while deserialising but never answers, so the client would wait forever. A malformed
  notification is logged and dropped (notifications have no answer). Command arguments are typed
  strictly: ``true`` is not a string, ``"5"`` is not a number (cattrs would convert both).
- Commands that take no arguments (distill now, pause/resume capture) refuse junk ones (-32602).
- A request after ``shutdown`` is Invalid Request (LSP), not silence.
- An error answer (InvalidParams, RequestFailed, ...) is one log line, not pygls' traceback.
- Carryover's custom notifications are typed, and take a fast path (hundreds a second).
- ``end_connection``: set by the TCP transport; then ``exit`` ends that connection, not the process.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Generator
from concurrent.futures import Future
from typing import Any

import cattrs
from lsprotocol import types as lsp
from lsprotocol.types import ResponseErrorMessage
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage

from carryover.lsp.wire import CMD_DISTILL, CMD_PAUSE, CMD_RESUME, CUSTOM_NOTIFICATIONS

logger = logging.getLogger(__name__)

INVALID_REQUEST = -32600
INVALID_PARAMS = -32602

_CUSTOM_TYPES = frozenset(CUSTOM_NOTIFICATIONS.values())

NO_ARGUMENT_COMMANDS = frozenset({CMD_DISTILL, CMD_PAUSE, CMD_RESUME})
"""Commands whose handlers take no arguments (they accept ``*_options``); an empty object or null is
accepted as "no options", anything else is InvalidParams."""


def error_response(msg_id: int | str | None, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def _usable_id(value: object) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def envelope_error(data: object) -> tuple[int | str | None, int, str] | None:
    """(the id to answer with, the code, the reason) when ``data`` is not a JSON-RPC 2.0 message."""
    if isinstance(data, list):
        return None, INVALID_REQUEST, "Invalid Request: batches are not part of LSP"
    if not isinstance(data, dict):
        return None, INVALID_REQUEST, f"Invalid Request: a message is an object, not {type(data).__name__}"
    msg_id = data.get("id")
    answer_id = msg_id if _usable_id(msg_id) else None
    if data.get("jsonrpc") != "2.0":
        return (
            answer_id,
            INVALID_REQUEST,
            f'Invalid Request: jsonrpc must be "2.0", not {data.get("jsonrpc")!r}',
        )
    if "method" in data:
        if not isinstance(data["method"], str) or not data["method"]:
            return answer_id, INVALID_REQUEST, "Invalid Request: method must be a non-empty string"
        if "id" in data and not _usable_id(msg_id):
            return None, INVALID_REQUEST, f"Invalid Request: id must be a number or a string, not {msg_id!r}"
        if data.get("params") is not None and not isinstance(data["params"], (dict, list)):
            return answer_id, INVALID_REQUEST, "Invalid Request: params must be an object or an array"
        return None
    if "result" in data or "error" in data:  # a response to one of our requests
        if "result" in data and "error" in data:
            return None, INVALID_REQUEST, "Invalid Request: a response has a result or an error, not both"
        if "error" in data and not isinstance(data["error"], dict):
            return None, INVALID_REQUEST, "Invalid Request: a response's error must be an object"
        if not (_usable_id(msg_id) or msg_id is None):
            return None, INVALID_REQUEST, f"Invalid Request: id must be a number or a string, not {msg_id!r}"
        return None
    return answer_id, INVALID_REQUEST, "Invalid Request: a request without a method"


class _Answered:
    """Stands for a message that has been dealt with while it was deserialised."""


ANSWERED = _Answered()


def _detail(error: BaseException) -> str:
    cause = error.__cause__ if isinstance(error, JsonRpcException) else error
    if isinstance(cause, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(cause, path="params"))
    return str(cause or error) or type(error).__name__


def _strict(kind: type[Any]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, target: Any) -> Any:
        if (type(value) is bool and kind is not bool) or not isinstance(value, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} {value!r:.40}")
        # The hook also serves subclasses (lsprotocol's enums): those are made from the value.
        return value if target is kind else target(value)

    return structure


def _strict_float(value: Any, _type: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {type(value).__name__} {value!r:.40}")
    return float(value)


class CarryoverProtocol(LanguageServerProtocol):
    def __init__(self, server: Any, converter: cattrs.Converter) -> None:
        for kind in (str, int, bool):
            converter.register_structure_hook(kind, _strict(kind))
        converter.register_structure_hook(float, _strict_float)
        super().__init__(server, converter)
        self.end_connection: Callable[[], object] | None = None

    def get_message_type(self, method: str) -> type[Any] | None:  # type: ignore[override]  # lru_cache in base
        custom = CUSTOM_NOTIFICATIONS.get(method)
        if custom is not None:
            return custom
        found: type[Any] | None = super().get_message_type(method)
        return found

    def structure_message(self, data: dict[str, Any]) -> Any:
        """As pygls does, without its traceback on stderr for every message that does not fit."""
        if "jsonrpc" not in data:  # a nested object (pygls' own reader structures bottom-up)
            return data
        method = data.get("method")
        try:
            if "id" in data:
                if "error" in data:
                    return self._converter.structure(data, ResponseErrorMessage)
                if method is not None:
                    kind = self.get_message_type(method) or JsonRPCRequestMessage
                    return self._check_command(self._converter.structure(data, kind))
                result_kind = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
                return self._converter.structure(data, result_kind)
            return self._converter.structure(data, self.get_message_type(method or "") or JsonRPCNotification)
        except Exception as error:  # noqa: BLE001 - cattrs' errors for params that do not fit their type
            return self._not_structured(data, method, _detail(error))

    def _not_structured(self, data: dict[str, Any], method: str | None, detail: str) -> _Answered:
        if method is None:  # a response to one of our requests that does not fit its type
            logger.warning("a malformed response to request %s: %s", data.get("id"), detail)
            future = self._request_futures.pop(data.get("id"), None)  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_exception(JsonRpcInvalidParams(message=f"malformed response: {detail}"))
        elif "id" in data:
            logger.warning("invalid params for %s: %s", method, detail)
            self._send_data(error_response(data["id"], INVALID_PARAMS, f"Invalid params: {detail}"))
        else:
            logger.warning("dropped a malformed %s notification: %s", method, detail)
        return ANSWERED

    def _check_command(self, message: Any) -> Any:
        params = getattr(message, "params", None)
        if not isinstance(params, lsp.ExecuteCommandParams) or params.command not in NO_ARGUMENT_COMMANDS:
            return message
        arguments = params.arguments or []
        if len(arguments) > 1 or (arguments and arguments[0] not in (None, {})):
            detail = f"{params.command} takes no arguments, got {arguments!r:.80}"
            logger.warning("invalid params for %s: %s", lsp.WORKSPACE_EXECUTE_COMMAND, detail)
            self._send_data(error_response(message.id, INVALID_PARAMS, f"Invalid params: {detail}"))
            return ANSWERED
        return message

    def handle_message(self, message: Any) -> None:
        if message is ANSWERED:
            return
        if type(message) in _CUSTOM_TYPES and not self._shutdown:
            # The hot path (a busy terminal sends hundreds a second): pygls would first test the
            # message against its runtime-checkable protocols, which costs more than handling it.
            contextvars.copy_context().run(self._handle_notification, message.method, message.params)
            return
        method = getattr(message, "method", None)
        if self._shutdown and method is not None and method != lsp.EXIT:
            if hasattr(message, "id"):
                logger.warning("a %s request after shutdown was refused", method)
                self._send_data(error_response(message.id, INVALID_REQUEST, "the server is shutting down"))
            return
        super().handle_message(message)

    def _send_handler_result(self, future: Future[Any], *, msg_id: Any) -> None:
        error = None if future.cancelled() else future.exception()
        if isinstance(error, JsonRpcException):
            self._request_futures.pop(msg_id, None)
            logger.warning("request %s answered with error %s: %s", msg_id, error.code, error.message)
            self._send_response(msg_id, error=error.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    @lsp_method(lsp.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """Over stdio, pygls' exit (the process ends, 1 without shutdown first); over TCP the
        connection ends instead (the transport closes that session)."""
        if self.end_connection is None:
            close = getattr(self._server, "close", None)
            if not self._shutdown and close is not None:
                # No shutdown came first: stop what it would have stopped (capture, workers), or
                # their threads would keep the process alive after sys.exit.
                yield close, (), None
            yield from super().lsp_exit(*args)
            return
        if (user_handler := self.fm.features.get(lsp.EXIT)) is not None:
            yield user_handler, args, None
        self.end_connection()

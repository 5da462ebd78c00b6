"""A failing feature logs (with the traceback) and answers nothing; the server keeps serving.

Protocol errors (``JsonRpcException``: InvalidParams for a bad argument, say) and cancellation pass
through, so the client still gets the right error code.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from pygls.exceptions import JsonRpcException

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def guarded_sync(name: str) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """``guarded`` for plain functions (notifications that have nothing to await: no task each)."""

    def decorate(handler: Callable[P, R]) -> Callable[P, R | None]:
        @functools.wraps(handler)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return handler(*args, **kwargs)
            except JsonRpcException:
                raise
            except Exception:
                logger.exception("%s failed", name)
                return None

        return wrapper

    return decorate


def guarded(name: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R | None]]]:
    def decorate(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | None]]:
        @functools.wraps(handler)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return await handler(*args, **kwargs)
            except (JsonRpcException, asyncio.CancelledError):
                raise
            except Exception:
                logger.exception("%s failed", name)
                return None

        return wrapper

    return decorate

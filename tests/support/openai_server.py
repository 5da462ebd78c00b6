"""A small, real OpenAI-compatible HTTP server for tests (standard library only).

It speaks just enough of the API for Carryover's clients:

* ``POST /v1/embeddings`` — deterministic, meaningful vectors: lower-cased word unigrams and
  character trigrams feature-hashed (blake2b, stable across processes) into ``dimension`` buckets
  with a hash-derived sign, then L2-normalised. Honours ``input`` (string or list), ``dimensions``
  and ``encoding_format`` (``"float"`` or ``"base64"``; the official client asks for base64 by
  default and decodes little-endian float32 bytes).
* ``POST /v1/chat/completions`` — a non-streaming chat completion whose content comes from the
  ``scripted_replies`` queue (a string is the assistant's content, a dict is sent verbatim as the
  whole reply); when the queue is empty it echoes the last user message as a JSON object.

Every request is recorded (method, path, headers, parsed JSON body) in ``requests``. Faults are
queued per test and each one is consumed by the next request(s), in order: ``fail_next`` (an HTTP
error status, with a ``retry-after-ms`` header so the client's retries stay fast),
``malformed_next`` (a 200 whose body is not valid JSON), ``delay_next`` (sleep before answering,
for timeouts), ``wrong_dimension_next`` (vectors of another length). ``require_api_key`` makes
every request without ``Authorization: Bearer <key>`` fail with 401.

Use it as a context manager or through the ``openai_server`` pytest fixture below.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

DEFAULT_DIMENSION = 256
EMBEDDINGS_PATH = "/v1/embeddings"
CHAT_PATH = "/v1/chat/completions"

_WORD = re.compile(r"[a-z0-9_]+")


# --------------------------------------------------------------------------------------------------
# The embedding function
# --------------------------------------------------------------------------------------------------


def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return (value >> 1) % dimension, (1.0 if value & 1 else -1.0)


def hashed_embedding(text: str, dimension: int = DEFAULT_DIMENSION) -> list[float]:
    """The server's vector for ``text``: feature-hashed unigrams (weight 1) and trigrams (0.5)."""
    vector = [0.0] * dimension
    for word in _WORD.findall(text.lower()):
        index, sign = _bucket("w:" + word, dimension)
        vector[index] += sign
        padded = f" {word} "
        for start in range(len(padded) - 2):
            index, sign = _bucket("t:" + padded[start : start + 3], dimension)
            vector[index] += 0.5 * sign
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        return vector
    # Round-trip through float32 so "float" and "base64" replies carry identical numbers.
    return list(struct.unpack(f"<{dimension}f", struct.pack(f"<{dimension}f", *(x / norm for x in vector))))


def encode_base64(vector: list[float]) -> str:
    """How the OpenAI API encodes a vector for ``encoding_format="base64"``: little-endian float32."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


# --------------------------------------------------------------------------------------------------
# Recorded requests and faults
# --------------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # header names lower-cased
    body: Any  # parsed JSON, or None when the body was empty or not JSON
    raw_body: bytes


@dataclass
class _Fault:
    kind: str  # "status" | "malformed" | "delay" | "wrong_dimension"
    remaining: int
    status: int = 500
    retry_after_ms: int | None = None
    body: bytes = b""
    seconds: float = 0.0
    dimension: int = 0
    only_index: int | None = None


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------


class FakeOpenAIServer:
    """An OpenAI-compatible server on 127.0.0.1 (a free port), run in a background thread."""

    def __init__(
        self,
        *,
        dimension: int = DEFAULT_DIMENSION,
        require_api_key: str | None = None,
        reverse_data_order: bool = False,
    ) -> None:
        self.dimension = dimension
        self.require_api_key = require_api_key
        # Reply with ``data`` in reverse order (with correct ``index`` fields) to test re-ordering.
        self.reverse_data_order = reverse_data_order
        self.scripted_replies: deque[str | dict[str, Any]] = deque()
        self.requests: list[RecordedRequest] = []
        self._faults: deque[_Fault] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        if self._httpd is not None:
            return self
        handler = _make_handler(self)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._httpd = httpd
        self._closing.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._closing.set()  # wakes handlers sleeping in a delay fault
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL to give a client, ending in ``/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- fault injection -----------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 500, *, retry_after_ms: int | None = 1) -> None:
        """Answer the next ``count`` requests with ``status`` and an OpenAI-style error body.

        ``retry_after_ms`` is sent as the ``retry-after-ms`` header, which the official client
        honours instead of its 0.5 s+ exponential backoff (None leaves the header out).
        """
        self._add(_Fault("status", count, status=status, retry_after_ms=retry_after_ms))

    def malformed_next(self, count: int = 1, body: bytes = b'{"object": "list", "data": [') -> None:
        """Answer the next ``count`` requests with 200, ``application/json`` and this (broken) body."""
        self._add(_Fault("malformed", count, body=body))

    def delay_next(self, count: int = 1, seconds: float = 1.0) -> None:
        """Sleep ``seconds`` before answering the next ``count`` requests (normally)."""
        self._add(_Fault("delay", count, seconds=seconds))

    def wrong_dimension_next(
        self, count: int = 1, dimension: int = 7, *, only_index: int | None = None
    ) -> None:
        """Return ``dimension``-long vectors for the next ``count`` embedding requests.

        With ``only_index``, only that row of the reply has the wrong length (a ragged reply).
        """
        self._add(_Fault("wrong_dimension", count, dimension=dimension, only_index=only_index))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.popleft()
            return fault

    # -- assertions helpers ----------------------------------------------------------------------

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return self.requests_to(EMBEDDINGS_PATH)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return self.requests_to(CHAT_PATH)

    # -- request handling (called from handler threads) ------------------------------------------

    def _handle(self, method: str, path: str, headers: dict[str, str], raw_body: bytes) -> _Reply:
        try:
            body: Any = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body, raw_body))

        if self.require_api_key is not None:
            given = headers.get("authorization", "")
            if given != f"Bearer {self.require_api_key}":
                shown = given.removeprefix("Bearer ")
                # Echo the wrong key back, as some servers do, so clients must scrub it themselves.
                return _error(
                    401, f"Incorrect API key provided: {shown}", "invalid_request_error", "invalid_api_key"
                )

        fault = self._take_fault()
        wrong_dimension: _Fault | None = None
        if fault is not None:
            if fault.kind == "status":
                reply = _error(fault.status, f"injected failure (HTTP {fault.status})", "server_error", None)
                if fault.retry_after_ms is not None:
                    reply.headers["retry-after-ms"] = str(fault.retry_after_ms)
                return reply
            if fault.kind == "malformed":
                return _Reply(200, fault.body, {"Content-Type": "application/json"})
            if fault.kind == "delay" and self._closing.wait(fault.seconds):
                return _error(503, "server shutting down", "server_error", None)
            if fault.kind == "wrong_dimension":
                wrong_dimension = fault

        if method != "POST":
            return _error(405, f"{method} not allowed", "invalid_request_error", None)
        if path == EMBEDDINGS_PATH:
            return self._embeddings(body, wrong_dimension)
        if path == CHAT_PATH:
            return self._chat(body)
        return _error(404, f"no route for {path}", "invalid_request_error", None)

    def _embeddings(self, body: Any, wrong_dimension: _Fault | None) -> _Reply:
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object", "invalid_request_error", None)
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
            return _error(
                400, "'input' must be a string or a non-empty list of strings", "invalid_request_error", None
            )
        if any(t == "" for t in inputs):
            return _error(400, "'input' cannot contain empty strings", "invalid_request_error", None)
        dimension = body.get("dimensions", self.dimension)
        if not isinstance(dimension, int) or dimension < 1:
            return _error(400, "'dimensions' must be a positive integer", "invalid_request_error", None)
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            return _error(400, f"unknown encoding_format {encoding!r}", "invalid_request_error", None)

        data: list[dict[str, Any]] = []
        for index, text in enumerate(inputs):
            row_dimension = dimension
            if wrong_dimension is not None and wrong_dimension.only_index in (None, index):
                row_dimension = wrong_dimension.dimension
            vector = hashed_embedding(text, row_dimension)
            payload: Any = encode_base64(vector) if encoding == "base64" else vector
            data.append({"object": "embedding", "index": index, "embedding": payload})
        if self.reverse_data_order:
            data.reverse()
        tokens = sum(len(_WORD.findall(t.lower())) for t in inputs)
        reply = {
            "object": "list",
            "data": data,
            "model": body.get("model", "fake-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return _json(200, reply)

    def _chat(self, body: Any) -> _Reply:
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "'messages' must be a list", "invalid_request_error", None)
        with self._lock:
            scripted = self.scripted_replies.popleft() if self.scripted_replies else None
            number = len(self.requests)
        if isinstance(scripted, dict):
            return _json(200, scripted)
        if scripted is None:
            last_user = next(
                (
                    m.get("content")
                    for m in reversed(body["messages"])
                    if isinstance(m, dict) and m.get("role") == "user"
                ),
                None,
            )
            content = json.dumps({"echo": last_user})
        else:
            content = scripted
        reply = {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-chat"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return _json(200, reply)


def _json(status: int, payload: Any) -> _Reply:
    return _Reply(status, json.dumps(payload).encode("utf-8"), {"Content-Type": "application/json"})


def _error(status: int, message: str, kind: str, code: str | None) -> _Reply:
    return _json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: simple and shutdown-friendly

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            path = self.path.split("?", 1)[0]
            reply = server._handle(self.command, path, headers, raw)
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:  # the client gave up (timeout) and closed the socket
                pass

        do_POST = _serve
        do_GET = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# --------------------------------------------------------------------------------------------------
# pytest fixture
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A fresh, started FakeOpenAIServer for one test."""
    with FakeOpenAIServer() as server:
        yield server

"""An embedder for any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, vLLM, Ollama, LM Studio…).

It uses the official ``openai`` client, created on first use (importing ``openai`` costs about a
second). The client does the retries with backoff for 408/409/429/5xx and connection errors
(``max_retries``); every failure that remains is raised as :class:`EmbedderError`, naming the
base URL and the HTTP status, never the API key.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from carryover.pool.embedding.base import EmbedderError, EmbedderUnavailable, Vectors, normalise_rows
from carryover.pool.redaction import redact_text

if TYPE_CHECKING:
    import openai
    from openai.types import CreateEmbeddingResponse

DEFAULT_MODEL = "text-embedding-3-small"
ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_API_KEY = "OPENAI_API_KEY"
ENV_MODEL = "CARRYOVER_EMBEDDING_MODEL"
_PROBE_TEXT = "dimension probe"
# Sent as the key to custom endpoints that need none (the client refuses to start without one).
_NO_KEY = "no-key"


def _mask_key(key: str | None) -> str:
    return "None" if key is None else "'***'"


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value!r}")


def _non_negative(_instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value!r}")


@attrs.frozen
class OpenAIEmbedderConfig:
    """Where and how to ask for embeddings. ``repr`` masks the API key."""

    base_url: str | None  # None: the client's default (OPENAI_BASE_URL, else api.openai.com)
    model: str
    api_key: str | None = attrs.field(repr=_mask_key)
    dimensions: int | None = attrs.field(default=None, validator=_positive)
    timeout_s: float = attrs.field(default=20.0, validator=_positive)
    max_retries: int = attrs.field(default=3, validator=_non_negative)
    batch_size: int = attrs.field(default=64, validator=_positive)

    @classmethod
    def from_env(
        cls,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        dimensions: int | None = None,
        timeout_s: float = 20.0,
        max_retries: int = 3,
        batch_size: int = 64,
        environ: Mapping[str, str] | None = None,
    ) -> OpenAIEmbedderConfig:
        """Explicit arguments win; otherwise OPENAI_BASE_URL, OPENAI_API_KEY and
        CARRYOVER_EMBEDDING_MODEL (default ``text-embedding-3-small``). Empty variables count as unset."""
        env = os.environ if environ is None else environ
        return cls(
            base_url=base_url or env.get(ENV_BASE_URL) or None,
            model=model or env.get(ENV_MODEL) or DEFAULT_MODEL,
            api_key=api_key or env.get(ENV_API_KEY) or None,
            dimensions=dimensions,
            timeout_s=timeout_s,
            max_retries=max_retries,
            batch_size=batch_size,
        )


def _detail(exc: openai.APIError) -> str:
    """The error message without the client's "Error code: N - " prefix, cut to a sensible length."""
    message = exc.message
    status = getattr(exc, "status_code", None)
    prefix = f"Error code: {status} - "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return message if len(message) <= 300 else message[:300] + "…"


def _display_url(url: str) -> str:
    """The URL without any user:password part."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class OpenAIEmbedder:
    """An :class:`~carryover.pool.embedding.base.Embedder` backed by an OpenAI-compatible endpoint.

    ``dimension`` is the configured ``dimensions`` if set; otherwise it is learned from the first
    reply (reading it before any call embeds a short probe text). Thread-safe.
    """

    def __init__(self, config: OpenAIEmbedderConfig) -> None:
        self._config = config
        self._client: openai.OpenAI | None = None
        self._dimension: int | None = config.dimensions
        self._lock = threading.Lock()

    # -- the Embedder interface ----------------------------------------------------------------

    @property
    def config(self) -> OpenAIEmbedderConfig:
        return self._config

    @property
    def name(self) -> str:
        suffix = f"@{self._config.dimensions}" if self._config.dimensions is not None else ""
        return f"openai:{self._config.model}{suffix}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            return self.probe()
        return self._dimension

    def probe(self) -> int:
        """Embed one short text to learn (or check) the dimension; returns it."""
        self.embed([_PROBE_TEXT])
        assert self._dimension is not None
        return self._dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Vectors for ``texts`` in order, ``batch_size`` texts per request.

        An empty list returns shape ``(0, dimension)`` without a request (``(0, 0)`` while the
        dimension is still unknown). Empty strings, which the OpenAI API rejects, are sent as " ".
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single string")
        if len(texts) == 0:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        # Everything leaves the machine redacted: memories are already, a query (the hovered line, a
        # diagnostic, a command's output) is not.
        safe = [redact_text(text) for text in texts]
        size = self._config.batch_size
        batches = [self._embed_batch(safe[start : start + size]) for start in range(0, len(safe), size)]
        return normalise_rows(np.concatenate(batches, axis=0) if len(batches) > 1 else batches[0])

    def close(self) -> None:
        """Close the HTTP connections (a later call opens new ones)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __repr__(self) -> str:
        return f"OpenAIEmbedder({self._config!r})"

    # -- internals --------------------------------------------------------------------------------

    def _get_client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is not None:
                return self._client
            try:
                import openai
            except ImportError as exc:  # pragma: no cover - openai is a dependency
                raise EmbedderUnavailable(
                    "the 'openai' package is not installed; install it with: pip install openai"
                ) from exc
            config = self._config
            api_key = config.api_key
            if api_key is None and config.base_url is not None:
                api_key = _NO_KEY  # a custom endpoint may need no key; the client insists on one
            try:
                self._client = openai.OpenAI(
                    base_url=config.base_url,
                    api_key=api_key,
                    timeout=config.timeout_s,
                    max_retries=config.max_retries,
                )
            except openai.OpenAIError as exc:
                raise EmbedderUnavailable(
                    f"cannot set up the OpenAI client for {self._where()}: {self._scrub(str(exc))} "
                    f"(set {ENV_API_KEY}, or {ENV_BASE_URL} for a local OpenAI-compatible server)"
                ) from exc
            return self._client

    def _where(self) -> str:
        client = self._client
        if client is not None:
            url = str(client.base_url)
        else:
            url = self._config.base_url or os.environ.get(ENV_BASE_URL) or "https://api.openai.com/v1"
        return _display_url(url.rstrip("/"))

    def _scrub(self, message: str) -> str:
        key = self._config.api_key
        if key:
            message = message.replace(key, "***")
        return message

    def _fail(self, message: str) -> EmbedderError:
        return EmbedderError(self._scrub(f"embedding endpoint {self._where()}: {message}"))

    def _request(self, batch: list[str]) -> CreateEmbeddingResponse:
        import openai

        client = self._get_client()
        model = self._config.model
        dimensions = self._config.dimensions
        try:
            if dimensions is None:
                return client.embeddings.create(input=batch, model=model)
            return client.embeddings.create(input=batch, model=model, dimensions=dimensions)
        except openai.APITimeoutError as exc:
            raise self._fail(
                f"timed out after {self._config.timeout_s:g} s ({self._config.max_retries} retries)"
            ) from exc
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            raise self._fail(
                f"cannot connect ({type(cause).__name__}: {cause}) after {self._config.max_retries} retries"
            ) from exc
        except openai.AuthenticationError as exc:
            raise self._fail(
                f"HTTP {exc.status_code} authentication failed, check the API key: {_detail(exc)}"
            ) from exc
        except openai.RateLimitError as exc:
            raise self._fail(
                f"HTTP {exc.status_code} rate limited, still after {self._config.max_retries} retries: "
                f"{_detail(exc)}"
            ) from exc
        except openai.APIStatusError as exc:
            raise self._fail(f"HTTP {exc.status_code}: {_detail(exc)}") from exc
        except openai.APIError as exc:  # includes APIResponseValidationError
            raise self._fail(f"bad reply: {_detail(exc)}") from exc
        except openai.OpenAIError as exc:
            raise self._fail(f"{type(exc).__name__}: {exc}") from exc
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # e.g. a body that is not JSON
            raise self._fail(f"malformed reply ({type(exc).__name__}: {exc})") from exc

    def _embed_batch(self, batch: list[str]) -> Vectors:
        response = self._request([text if text else " " for text in batch])
        data = getattr(response, "data", None)
        if not isinstance(data, list):
            raise self._fail("malformed reply: no 'data' list")
        if len(data) != len(batch):
            raise self._fail(f"returned {len(data)} vectors for {len(batch)} texts")
        rows: list[list[float] | None] = [None] * len(batch)
        for item in data:
            index = getattr(item, "index", None)
            vector = getattr(item, "embedding", None)
            if not isinstance(index, int) or not 0 <= index < len(batch) or rows[index] is not None:
                raise self._fail(f"malformed reply: bad or repeated index {index!r}")
            if not isinstance(vector, list) or not all(isinstance(x, (int, float)) for x in vector):
                raise self._fail(f"malformed reply: the embedding at index {index} is not a list of numbers")
            rows[index] = vector
        with self._lock:
            expected = self._dimension if self._dimension is not None else len(rows[0] or ())
            for row in rows:
                if row is None or len(row) != expected:
                    got = 0 if row is None else len(row)
                    raise self._fail(f"endpoint returned {got}-d vectors, expected {expected}")
            if expected == 0:
                raise self._fail("endpoint returned empty vectors")
            if self._dimension is None:
                self._dimension = expected
        matrix = np.asarray(rows, dtype=np.float32)
        if not np.isfinite(matrix).all():
            raise self._fail("returned non-finite numbers (NaN or infinity)")
        return matrix

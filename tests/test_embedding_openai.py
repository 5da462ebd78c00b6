"""OpenAIEmbedder against a real (local) OpenAI-compatible HTTP server."""

from __future__ import annotations

import base64
import json
import math
import socket
import struct
import time
import urllib.request

import numpy as np
import pytest

from carryover.pool.embedding.base import CachedEmbedder, Embedder, EmbedderError
from carryover.pool.embedding.openai_compat import OpenAIEmbedder, OpenAIEmbedderConfig
from tests.support.openai_server import (
    CHAT_PATH,
    EMBEDDINGS_PATH,
    FakeOpenAIServer,
    hashed_embedding,
)

KEY = "sk-test-SECRET-0123456789"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "CARRYOVER_EMBEDDING_MODEL", "OPENAI_CUSTOM_HEADERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def make(server: FakeOpenAIServer, **overrides: object) -> OpenAIEmbedder:
    settings: dict[str, object] = {
        "base_url": server.url,
        "model": "fake-embed",
        "api_key": KEY,
        "timeout_s": 5.0,
        "max_retries": 2,
        "batch_size": 64,
    }
    settings.update(overrides)
    return OpenAIEmbedder(OpenAIEmbedderConfig(**settings))  # type: ignore[arg-type]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- round trip ---------------------------------------------------------------------------------


def test_round_trip_shape_norm_dtype_and_server_vectors(openai_server: FakeOpenAIServer) -> None:
    embedder = make(openai_server)
    texts = ["def parse(line): return line.split()", "SELECT * FROM users", "a third text"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 256)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Exactly the server's vectors (they travelled as base64 float32).
    expected = np.array([hashed_embedding(t) for t in texts], dtype=np.float32)
    np.testing.assert_allclose(vectors, expected, atol=1e-6)
    assert embedder.dimension == 256
    assert embedder.name == "openai:fake-embed"
    assert isinstance(embedder, Embedder)
    (request,) = openai_server.embedding_requests
    assert request.body["model"] == "fake-embed"
    assert request.body["input"] == texts
    assert request.body["encoding_format"] == "base64"  # the client's default
    assert "dimensions" not in request.body


def test_results_follow_the_index_field_not_reply_order() -> None:
    with FakeOpenAIServer(reverse_data_order=True) as server:
        embedder = make(server)
        texts = [f"text number {i} about topic {i * 7}" for i in range(5)]
        vectors = embedder.embed(texts)
        expected = np.array([hashed_embedding(t) for t in texts], dtype=np.float32)
        np.testing.assert_allclose(vectors, expected, atol=1e-6)


def test_batching_makes_ceil_n_over_batch_requests_and_keeps_order(openai_server: FakeOpenAIServer) -> None:
    embedder = make(openai_server, batch_size=4)
    texts = [f"sentence {i} mentions word{i}" for i in range(10)]
    vectors = embedder.embed(texts)
    requests = openai_server.embedding_requests
    assert len(requests) == math.ceil(10 / 4) == 3
    assert [len(r.body["input"]) for r in requests] == [4, 4, 2]
    assert [t for r in requests for t in r.body["input"]] == texts
    singles = np.vstack([embedder.embed([t]) for t in texts])
    np.testing.assert_allclose(vectors, singles, atol=1e-6)


def test_empty_input_makes_no_request(openai_server: FakeOpenAIServer) -> None:
    embedder = make(openai_server, dimensions=32)
    assert embedder.embed([]).shape == (0, 32)
    assert embedder.embed([]).dtype == np.float32
    assert openai_server.requests == []


def test_dimensions_are_sent_and_named(openai_server: FakeOpenAIServer) -> None:
    embedder = make(openai_server, dimensions=64)
    assert embedder.name == "openai:fake-embed@64"
    assert embedder.dimension == 64  # known without a request
    assert openai_server.requests == []
    assert embedder.embed(["hello world"]).shape == (1, 64)
    assert openai_server.embedding_requests[0].body["dimensions"] == 64


def test_probe_learns_the_dimension(openai_server: FakeOpenAIServer) -> None:
    embedder = make(openai_server)
    assert embedder.probe() == 256
    assert len(openai_server.embedding_requests) == 1
    assert embedder.dimension == 256
    assert len(openai_server.embedding_requests) == 1


def test_dimension_property_probes_when_unknown(openai_server: FakeOpenAIServer) -> None:
    cached = CachedEmbedder(make(openai_server))
    assert cached.embed(["one", "two"]).shape == (2, 256)
    assert cached.embed(["one"]).shape == (1, 256)
    # one probe for the dimension, one request for the two texts, none for the cache hit
    assert len(openai_server.embedding_requests) == 2


def test_empty_string_is_sent_as_a_space(openai_server: FakeOpenAIServer) -> None:
    vectors = make(openai_server).embed(["", "word"])
    assert vectors.shape == (2, 256)
    assert openai_server.embedding_requests[0].body["input"] == [" ", "word"]


def test_semantic_sanity(openai_server: FakeOpenAIServer) -> None:
    embedder = make(openai_server)
    a, b, c = embedder.embed(
        [
            "always close the database connection in a finally block",
            "always close the database cursor in a finally block",
            "the quarterly sales report for the marketing team",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.3


# -- configuration and auth ------------------------------------------------------------------------


def test_authorization_header_carries_the_key(openai_server: FakeOpenAIServer) -> None:
    openai_server.require_api_key = KEY
    make(openai_server).embed(["x"])
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_config_from_env(openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    config = OpenAIEmbedderConfig.from_env()
    assert config.base_url == openai_server.url
    assert config.api_key == "sk-from-env"
    assert config.model == "text-embedding-3-small"
    monkeypatch.setenv("CARRYOVER_EMBEDDING_MODEL", "nomic-embed-text")
    config = OpenAIEmbedderConfig.from_env(dimensions=16, batch_size=8)
    assert (config.model, config.dimensions, config.batch_size) == ("nomic-embed-text", 16, 8)
    assert OpenAIEmbedderConfig.from_env("explicit-model").model == "explicit-model"

    OpenAIEmbedder(config).embed(["from the environment"])
    (request,) = openai_server.requests
    assert request.headers["authorization"] == "Bearer sk-from-env"
    assert request.body["model"] == "nomic-embed-text"


def test_no_key_for_a_custom_endpoint_still_works(openai_server: FakeOpenAIServer) -> None:
    assert make(openai_server, api_key=None).embed(["x"]).shape == (1, 256)


def test_repr_hides_the_key(openai_server: FakeOpenAIServer) -> None:
    config = OpenAIEmbedderConfig(base_url=openai_server.url, model="m", api_key=KEY)
    assert KEY not in repr(config)
    assert "***" in repr(config)
    assert KEY not in repr(OpenAIEmbedder(config))
    assert "api_key=None" in repr(OpenAIEmbedderConfig(base_url=None, model="m", api_key=None))


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        OpenAIEmbedderConfig(base_url=None, model="m", api_key=None, batch_size=0)
    with pytest.raises(ValueError):
        OpenAIEmbedderConfig(base_url=None, model="m", api_key=None, max_retries=-1)


# -- retries and failures -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 429])
def test_retries_then_success(openai_server: FakeOpenAIServer, status: int) -> None:
    openai_server.fail_next(2, status)
    start = time.monotonic()
    vectors = make(openai_server, max_retries=3).embed(["retry me"])
    assert vectors.shape == (1, 256)
    assert len(openai_server.embedding_requests) == 3
    assert time.monotonic() - start < 2.0  # retry-after-ms keeps the backoff short


def test_persistent_500_names_status_and_url_not_key(openai_server: FakeOpenAIServer) -> None:
    openai_server.fail_next(10, 500)
    with pytest.raises(EmbedderError) as info:
        make(openai_server, max_retries=2).embed(["x"])
    message = str(info.value)
    assert "500" in message
    assert openai_server.url in message
    assert KEY not in message
    assert len(openai_server.embedding_requests) == 3  # 1 + max_retries


def test_persistent_429_is_reported_as_rate_limit(openai_server: FakeOpenAIServer) -> None:
    openai_server.fail_next(10, 429)
    with pytest.raises(EmbedderError, match=r"429 rate limited") as info:
        make(openai_server, max_retries=1).embed(["x"])
    assert KEY not in str(info.value)
    assert len(openai_server.embedding_requests) == 2


def test_no_retry_on_400(openai_server: FakeOpenAIServer) -> None:
    openai_server.fail_next(5, 400)
    with pytest.raises(EmbedderError, match="HTTP 400"):
        make(openai_server, max_retries=3).embed(["x"])
    assert len(openai_server.embedding_requests) == 1


def test_timeout(openai_server: FakeOpenAIServer) -> None:
    openai_server.delay_next(5, seconds=3.0)
    start = time.monotonic()
    with pytest.raises(EmbedderError, match="timed out") as info:
        make(openai_server, timeout_s=0.3, max_retries=0).embed(["slow"])
    assert time.monotonic() - start < 2.0
    assert openai_server.url in str(info.value)


def test_timeout_then_retry_succeeds(openai_server: FakeOpenAIServer) -> None:
    openai_server.delay_next(1, seconds=3.0)
    vectors = make(openai_server, timeout_s=0.3, max_retries=1).embed(["slow then fast"])
    assert vectors.shape == (1, 256)
    assert len(openai_server.embedding_requests) == 2


def test_malformed_json(openai_server: FakeOpenAIServer) -> None:
    openai_server.malformed_next(1)
    with pytest.raises(EmbedderError, match="malformed") as info:
        make(openai_server).embed(["x"])
    assert openai_server.url in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        b'{"object": "list", "data": []}',
        b'{"object": "list"}',
        b'{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": "%%%"}]}',
        b'{"object": "list", "data": [{"object": "embedding", "index": 5, "embedding": [1.0]}]}',
        b'{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": ["a"]}]}',
        b"[1, 2, 3]",
    ],
)
def test_well_formed_json_but_wrong_shape(openai_server: FakeOpenAIServer, body: bytes) -> None:
    openai_server.malformed_next(1, body=body)
    with pytest.raises(EmbedderError):
        make(openai_server).embed(["x"])


def test_wrong_dimension_against_configured(openai_server: FakeOpenAIServer) -> None:
    openai_server.wrong_dimension_next(1, dimension=7)
    with pytest.raises(EmbedderError, match="endpoint returned 7-d vectors, expected 64"):
        make(openai_server, dimensions=64).embed(["x"])


def test_wrong_dimension_against_learned(openai_server: FakeOpenAIServer) -> None:
    embedder = make(openai_server)
    embedder.embed(["first"])
    openai_server.wrong_dimension_next(1, dimension=128)
    with pytest.raises(EmbedderError, match="endpoint returned 128-d vectors, expected 256"):
        embedder.embed(["second"])


def test_ragged_reply(openai_server: FakeOpenAIServer) -> None:
    openai_server.wrong_dimension_next(1, dimension=9, only_index=1)
    with pytest.raises(EmbedderError, match="endpoint returned 9-d vectors, expected 256"):
        make(openai_server).embed(["a", "b", "c"])


def test_401_names_status_not_key(openai_server: FakeOpenAIServer) -> None:
    openai_server.require_api_key = "sk-the-right-one"
    with pytest.raises(EmbedderError) as info:
        make(openai_server).embed(["x"])
    message = str(info.value)
    assert "401" in message
    assert openai_server.url in message
    assert KEY not in message  # the server echoed it; the embedder scrubbed it
    assert len(openai_server.requests) == 1  # 401 is not retried


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    embedder = OpenAIEmbedder(
        OpenAIEmbedderConfig(base_url=url, model="m", api_key=KEY, timeout_s=2.0, max_retries=0)
    )
    with pytest.raises(EmbedderError, match="cannot connect") as info:
        embedder.embed(["x"])
    assert url in str(info.value)
    assert KEY not in str(info.value)


# -- the test server itself ---------------------------------------------------------------------


def _post(server: FakeOpenAIServer, path: str, payload: object) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        result: dict[str, object] = json.loads(reply.read())
        return result


def test_server_float_and_base64_agree(openai_server: FakeOpenAIServer) -> None:
    as_float = _post(openai_server, EMBEDDINGS_PATH, {"input": "hello there", "model": "m"})
    as_b64 = _post(
        openai_server, EMBEDDINGS_PATH, {"input": ["hello there"], "model": "m", "encoding_format": "base64"}
    )
    floats = as_float["data"][0]["embedding"]  # type: ignore[index]
    raw = base64.b64decode(as_b64["data"][0]["embedding"])  # type: ignore[index]
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == floats
    assert as_float["object"] == "list"
    assert as_float["usage"] == {"prompt_tokens": 2, "total_tokens": 2}


def test_server_chat_completions_with_the_openai_client(openai_server: FakeOpenAIServer) -> None:
    import openai

    openai_server.scripted_replies.append('{"lessons": []}')
    client = openai.OpenAI(base_url=openai_server.url, api_key=KEY, max_retries=0)
    try:
        first = client.chat.completions.create(
            model="fake-chat", messages=[{"role": "user", "content": "distil this"}]
        )
        second = client.chat.completions.create(
            model="fake-chat", messages=[{"role": "user", "content": "and this"}]
        )
    finally:
        client.close()
    assert first.choices[0].message.content == '{"lessons": []}'
    assert json.loads(second.choices[0].message.content or "") == {"echo": "and this"}
    requests = openai_server.chat_requests
    assert len(requests) == 2
    assert requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert requests[0].body["messages"][0]["content"] == "distil this"
    assert openai_server.requests_to(CHAT_PATH) == requests

"""A model endpoint that never answers costs at most the deadline, retries included: a real TCP
server on 127.0.0.1 that accepts connections and reads requests but never replies."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from carryover.pipeline.distill.base import EndpointUnavailable
from carryover.pipeline.distill.factory import DistillerSettings, llm_settings
from carryover.pipeline.distill.llm import LLMDistiller, LLMSettings


@pytest.fixture
def silent_endpoint() -> Iterator[tuple[str, list[int]]]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    connections: list[socket.socket] = []
    accepted = [0]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted[0] += 1
            connections.append(connection)  # read nothing back, answer nothing

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1", accepted
    stop.set()
    thread.join(2)
    for connection in connections:
        connection.close()
    listener.close()


def test_a_silent_endpoint_costs_at_most_the_deadline(silent_endpoint: tuple[str, list[int]]) -> None:
    url, accepted = silent_endpoint
    distiller = LLMDistiller(
        LLMSettings(model="m", base_url=url, timeout_s=0.6, max_retries=5, deadline_s=1.5)
    )
    started = time.monotonic()
    with pytest.raises(EndpointUnavailable) as failed:
        distiller.complete([{"role": "user", "content": "hello"}])
    elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 2.0, elapsed  # the deadline, plus the client's own bookkeeping
    assert accepted[0] >= 1  # the request did reach the endpoint
    assert "timed out" in str(failed.value)
    distiller.close()


def test_the_default_deadline_is_at_most_thirty_seconds() -> None:
    chosen = llm_settings(DistillerSettings(endpoint="http://127.0.0.1:9/v1"), {})
    assert chosen is not None and chosen.deadline_s <= 30 and chosen.timeout_s <= chosen.deadline_s
    assert LLMSettings(model="m").deadline_s <= 30

"""The secret corpus (tests/data/secrets/): every fake secret caught in every context, every
look-alike left byte for byte as it was.

A secret counts as caught when no 8-character window of it (a whole short secret) is left in the
redacted text, apart from windows the text holds elsewhere anyway; the strings listed in ``keep``
(the prompt, the key name, the command around the secret) must still be there.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from carryover.pool.redaction import redact, redact_text
from tests.data.secrets.build_corpus import build, secret_pieces

DATA = Path(__file__).parent / "data" / "secrets"
WINDOW = 8


def load(name: str) -> list[dict[str, Any]]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


SECRETS = load("secrets.jsonl")
LOOKALIKES = load("lookalikes.jsonl")


def leaked_windows(text: str, secret: str, output: str, *, fold_case: bool = False) -> list[str]:
    """The windows of ``secret`` that ``output`` still shows (and ``text`` shows only as the secret)."""
    if fold_case:
        text, secret, output = text.lower(), secret.lower(), output.lower()
    left: list[str] = []
    for piece in secret_pieces(secret):
        elsewhere = text.replace(piece, "\x00")
        size = min(WINDOW, len(piece))
        for i in range(len(piece) - size + 1):
            window = piece[i : i + size]
            if window in output and window not in elsewhere:
                left.append(window)
                break
    return left


def test_the_corpus_is_as_big_as_promised() -> None:
    distinct = {entry["secret"] for entry in SECRETS}
    kinds = {entry["kind"] for entry in SECRETS}
    contexts_of: dict[str, set[str]] = defaultdict(set)
    for entry in SECRETS:
        contexts_of[entry["secret"]].add(entry["context"])
    assert len(distinct) >= 150
    assert len(kinds) >= 40
    assert len(LOOKALIKES) >= 150
    # At least 150 secrets in three contexts or more (key bodies are cut differently per context,
    # passwords spread over 27 shapes, three each).
    assert sum(len(c) >= 3 for c in contexts_of.values()) >= 150
    required = {"terminal-export", "terminal-output", "code-quoted", "code-unquoted", "dotenv", "url",
                "header", "commit-prose", "cut-off", "no-begin-line", "body-only"}  # fmt: skip
    assert required <= {e["context"] for e in SECRETS}
    looks = Counter(entry["kind"] for entry in LOOKALIKES)
    for kind in ("git-hash", "uuid", "base64-test-data", "sha256-checksum", "semver", "long-identifier",
                 "npm-integrity", "docker-digest"):  # fmt: skip
        assert looks[kind] >= 10, kind


def test_the_files_are_what_the_builder_makes() -> None:
    secrets, lookalikes = build()
    assert secrets == SECRETS
    assert lookalikes == LOOKALIKES


def test_every_secret_is_caught_in_every_context() -> None:
    missed: list[str] = []
    for entry in SECRETS:
        output = redact_text(entry["text"])
        left = leaked_windows(entry["text"], entry["secret"], output)
        lost = [keep for keep in entry["keep"] if keep not in output]
        if left or lost:
            missed.append(f"{entry['kind']}/{entry['context']}: left {left} lost {lost}")
    assert missed == [], f"{len(missed)} of {len(SECRETS)}:\n" + "\n".join(missed[:40])


def test_no_look_alike_is_damaged() -> None:
    damaged = [
        f"{entry['kind']}: {entry['text'][:120]!r} -> {redact_text(entry['text'])[:120]!r}"
        for entry in LOOKALIKES
        if redact(entry["text"]).findings
    ]
    assert damaged == [], "\n".join(damaged)


def test_all_look_alikes_in_one_text_are_left_alone() -> None:
    text = "".join(entry["text"] for entry in LOOKALIKES)
    assert redact_text(text) == text


def test_redaction_of_the_corpus_is_idempotent() -> None:
    for entry in SECRETS:
        once = redact_text(entry["text"])
        assert redact_text(once) == once, entry["kind"]


@pytest.mark.parametrize("separator", ["\n", "\n\n", "\r\n"])
def test_secrets_are_caught_side_by_side(separator: str) -> None:
    """All contexts of one kind joined into one text: neighbours must not hide each other."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in SECRETS:
        by_kind[entry["kind"]].append(entry)
    for kind, entries in by_kind.items():
        text = separator.join(entry["text"] for entry in entries)
        output = redact_text(text)
        for entry in entries:
            assert not leaked_windows(text, entry["secret"], output), (kind, entry["context"])

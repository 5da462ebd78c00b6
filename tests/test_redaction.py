"""Secret redaction: a corpus of fake but format-valid secrets, ordinary code that must pass untouched,
idempotence and odd inputs."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from carryover.pool.redaction import Finding, Redacted, redact, redact_text

DATA = Path(__file__).parent / "data"


def _load(name: str) -> list[dict[str, Any]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


CORPUS = _load("secrets_corpus.jsonl")
ORDINARY = _load("ordinary_code.jsonl")


def _expected(entry: dict[str, Any]) -> str:
    """The entry's text with every occurrence of each secret replaced by its placeholder."""
    text: str = entry["text"]
    for secret, kind in sorted(zip(entry["secrets"], entry["kinds"], strict=True), key=lambda p: -len(p[0])):
        text = text.replace(secret, f"[REDACTED:{kind}]")
    return text


def _check_findings(text: str, result: Redacted) -> None:
    """Findings are sorted, disjoint, inside the text, and rebuilding from them gives the output."""
    rebuilt: list[str] = []
    position = 0
    for finding in result.findings:
        assert position <= finding.start < finding.end <= len(text)
        rebuilt += [text[position : finding.start], f"[REDACTED:{finding.kind}]"]
        position = finding.end
    rebuilt.append(text[position:])
    assert "".join(rebuilt) == result.text


# --------------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------------


def test_corpus_is_big_enough() -> None:
    assert sum(len(e["secrets"]) for e in CORPUS) >= 45
    assert len(ORDINARY) >= 40
    for entry in CORPUS:
        assert len(entry["secrets"]) == len(entry["kinds"])
        assert all(secret in entry["text"] for secret in entry["secrets"])


@pytest.mark.parametrize("entry", CORPUS, ids=[f"corpus-{i}" for i in range(len(CORPUS))])
def test_corpus_secret_is_replaced_and_nothing_else(entry: dict[str, Any]) -> None:
    result = redact(entry["text"])
    for secret in entry["secrets"]:
        assert secret not in result.text
    # The whole output is pinned: placeholders exactly where the secrets were, all else byte-identical.
    assert result.text == _expected(entry)
    _check_findings(entry["text"], result)


@pytest.mark.parametrize("entry", CORPUS, ids=[f"corpus-{i}" for i in range(len(CORPUS))])
def test_corpus_findings_point_at_the_secrets(entry: dict[str, Any]) -> None:
    text: str = entry["text"]
    kind_of = dict(zip(entry["secrets"], entry["kinds"], strict=True))
    findings = redact(text).findings
    for finding in findings:
        assert kind_of[text[finding.start : finding.end]] == finding.kind
    expected = Counter({kind: 0 for kind in entry["kinds"]})
    for secret, kind in kind_of.items():
        expected[kind] += text.count(secret)
    assert Counter(f.kind for f in findings) == expected


def test_corpus_covers_the_required_kinds() -> None:
    kinds = {kind for entry in CORPUS for kind in entry["kinds"]}
    required = {
        "aws-access-key-id", "aws-secret-access-key", "gcp-api-key", "gcp-service-account-key",
        "azure-storage-key", "azure-connection-string", "github-token", "gitlab-token", "slack-token",
        "slack-webhook", "private-key", "jwt", "url-password", "bearer-token", "basic-auth",
        "generic-password", "generic-secret", "npm-token", "pypi-token", "stripe-key", "openai-key",
        "anthropic-key",
    }  # fmt: skip
    assert required <= kinds
    github = [s for e in CORPUS for s in e["secrets"] if s.startswith(("gh", "github_pat_"))]
    assert {s.split("_")[0] for s in github} >= {"ghp", "gho", "ghu", "ghs", "ghr", "github"}
    pem = [s for e in CORPUS for s in e["secrets"] if s.startswith("-----BEGIN")]
    for label in ("RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "BEGIN PRIVATE KEY"):
        assert any(label in block for block in pem), label


@pytest.mark.parametrize("entry", ORDINARY, ids=[f"ordinary-{i}" for i in range(len(ORDINARY))])
def test_ordinary_code_is_left_alone(entry: dict[str, Any]) -> None:
    result = redact(entry["text"])
    assert result.findings == ()
    assert result.text == entry["text"]


# --------------------------------------------------------------------------------------------------
# Specific behaviour
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgres://admin:s3cr3t@db:5432/app", "postgres://admin:[REDACTED:url-password]@db:5432/app"),
        ("redis://:p@ss:w0rd@cache:6379", "redis://:[REDACTED:url-password]@cache:6379"),
        (
            '{"password": "hunter22", "user": "bob"}',
            '{"password": "[REDACTED:generic-password]", "user": "bob"}',
        ),
        ("  - DB_PASSWORD=Xk3)p;9&a # comment", "  - DB_PASSWORD=[REDACTED:generic-password] # comment"),
        ('api_key: str = "abcd1234efgh"', 'api_key: str = "[REDACTED:generic-secret]"'),
        ('log {\\"token\\": \\"abc123xyz\\"}', 'log {\\"token\\": \\"[REDACTED:generic-secret]\\"}'),
        (
            "Server=db;User Id=sa;Password=Str0ng!Pass;Encrypt=true",
            "Server=db;User Id=sa;Password=[REDACTED:generic-password];Encrypt=true",
        ),
        ("$password = 'S3cr3t!!';", "$password = '[REDACTED:generic-password]';"),
        ("--password hunter22 --verbose", "--password [REDACTED:generic-password] --verbose"),
        ("x-api-key: 0123456789abcdef", "x-api-key: [REDACTED:generic-secret]"),
        # Dictionary words are redacted: they are often live default credentials.
        ("ADMIN_PASSWORD=changeme", "ADMIN_PASSWORD=[REDACTED:generic-password]"),
        ("password: changeme", "password: [REDACTED:generic-password]"),
        # Code on the right-hand side is not a secret.
        ("password = new_password", "password = new_password"),
        ("password: userPassword", "password: userPassword"),
        ("connect(password=pw)", "connect(password=pw)"),
    ],
)
def test_context_rules(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "value",
    ["", "<password>", "${DB_PASSWORD}", "$DB_PASSWORD", "$(cat /run/secrets/db)", "{{ .Values.pw }}",
     "********", "xxxxxxxx", "your_password_here", "None", "null", "true", "false", "%(password)s"],
)  # fmt: skip
def test_placeholder_values_are_kept(value: str) -> None:
    for line in (f"DB_PASSWORD={value}", f'password: "{value}"', f"postgres://u:{value}@db/x"):
        assert redact(line).findings == (), line


def test_only_the_password_of_a_url_is_replaced() -> None:
    text = "git clone https://ada:T0k3n-xyz@git.example.com/team/repo.git"
    result = redact(text)
    assert result.text == "git clone https://ada:[REDACTED:url-password]@git.example.com/team/repo.git"
    assert result.findings == (Finding("url-password", text.index("T0k3n"), text.index("@git")),)


def test_specific_kind_wins_over_context() -> None:
    token = "ghp_" + "A1b2C3d4" * 4 + "E5f6"
    assert redact_text(f"GITHUB_TOKEN={token}") == "GITHUB_TOKEN=[REDACTED:github-token]"
    assert redact_text(f"password: {token}") == "password: [REDACTED:github-token]"


def test_token_inside_a_longer_word_is_not_a_token() -> None:
    text = "xghp_" + "A1b2C3d4" * 4 + "E5f6"
    assert redact(text).findings == ()


def test_redact_text_matches_redact() -> None:
    entry = CORPUS[0]
    assert redact_text(entry["text"]) == redact(entry["text"]).text


# --------------------------------------------------------------------------------------------------
# Idempotence
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", CORPUS + ORDINARY)
def test_idempotent_on_corpus(entry: dict[str, Any]) -> None:
    once = redact(entry["text"])
    twice = redact(once.text)
    assert twice.text == once.text
    assert twice.findings == ()


_FRAGMENTS = (
    "=", ":", ": ", " = ", '"', "'", "\\\"", "\n", " ", "\t", "@", "://", "/", "?", "&", ",", ";", "(", ")",
    "{", "}", "[", "]", "<", ">", "$", "-", "--", "#", "password", "token", "api_key", "SECRET", "auth",
    "export ", "Authorization: Bearer ", "Basic ", "user", "hunter22", "s3cr3t!", "[REDACTED:jwt]",
    "[REDACTED:", "REDACTED", "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----",
    "MIIEowIBAAKCAQEA", "AKIA", "ghp_", "eyJ", ".", "postgres", "changeme", "\x00", "é", "İ", "🔑",
    "\x1b[0m", "\x1b[1;31m", "\x1b]8;;https://x\x1b\\",
)  # fmt: skip


def _random_text(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randrange(1, 40)):
        roll = rng.random()
        if roll < 0.1:
            entry = rng.choice(CORPUS)
            parts.append(rng.choice(entry["secrets"]))
        elif roll < 0.15:
            text = rng.choice(CORPUS + ORDINARY)["text"]
            start = rng.randrange(len(text))
            parts.append(text[start : start + rng.randrange(1, 200)])
        elif roll < 0.3:
            parts.append("".join(rng.choices("abcXYZ0189+/_-", k=rng.randrange(1, 50))))
        else:
            parts.append(rng.choice(_FRAGMENTS))
    return "".join(parts)


def test_idempotent_on_random_mixtures() -> None:
    rng = random.Random(1234)
    for _ in range(3000):
        text = _random_text(rng)
        once = redact(text)
        _check_findings(text, once)
        twice = redact(once.text)
        assert twice.text == once.text, text
        assert twice.findings == (), text


_KEYS = (
    "password",
    "DB_PASSWORD",
    "apiKey",
    "auth",
    "x-api-key",
    "--token",
    "$secret",
    '"token"',
    '\\"token\\"',
)
_SEPARATORS = ("=", ": ", " = ", ":=", " => ", ":", " ")
_VALUES = (
    "hunter22",
    "changeme",
    "${X}",
    "self.x",
    "f(x)",
    "'q1w2e3r4'",
    '"q1w2e3r4"',
    "[REDACTED:jwt]",
    "Bearer x1y2z3w4v5",
    "postgres://u:p4ss@h/db",
    "-----BEGIN RSA PRIVATE KEY-----",
)
_EDGES = ("", " ", "\n", ",", ";", ")", "}", "]", "&", "-", "_", "x", "=", "(", "{", "export ", "- ", "-e ",
          "\x00", "\x1b[0m", "://u:")  # fmt: skip


def test_idempotent_on_random_assignments() -> None:
    rng = random.Random(99)
    secrets = [s for e in CORPUS for s in e["secrets"] if len(s) < 300]
    for _ in range(3000):
        parts: list[str] = []
        for _ in range(rng.randrange(1, 6)):
            value = rng.choice(secrets) if rng.random() < 0.4 else rng.choice(_VALUES)
            parts += [
                rng.choice(_EDGES),
                rng.choice(_KEYS),
                rng.choice(_SEPARATORS),
                value,
                rng.choice(_EDGES),
            ]
        text = "".join(parts)
        once = redact(text)
        _check_findings(text, once)
        twice = redact(once.text)
        assert (twice.text, twice.findings) == (once.text, ()), text


def test_idempotent_property_with_hypothesis() -> None:
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=20)), max_size=30))
    def check(parts: list[str]) -> None:
        text = "".join(parts)
        once = redact(text)
        _check_findings(text, once)
        assert redact(once.text).text == once.text

    check()


# --------------------------------------------------------------------------------------------------
# Odd input
# --------------------------------------------------------------------------------------------------


def test_empty_text() -> None:
    assert redact("") == Redacted("", ())


def test_nul_bytes_are_kept_and_do_not_hide_secrets() -> None:
    text = "\x00\x00DB_PASSWORD=hunter22\x00\nAKIAIOSFODNN7EXAMPLE\x00"
    result = redact(text)
    expected = "\x00\x00DB_PASSWORD=[REDACTED:generic-password]\x00\n[REDACTED:aws-access-key-id]\x00"
    assert result.text == expected


def test_unicode_text_keeps_offsets() -> None:
    # 'İ'.lower() is two characters long, so the lower-cased copy is not aligned with the text.
    text = 'İstanbul 🔑 naïve café\nDB_PASSWORD=pässwörd9\n"token": "ключ-123456"\n'
    result = redact(text)
    assert result.text == (
        "İstanbul 🔑 naïve café\n"
        "DB_PASSWORD=[REDACTED:generic-password]\n"
        '"token": "[REDACTED:generic-secret]"\n'
    )
    _check_findings(text, result)


def test_terminal_colour_codes_are_looked_through() -> None:
    token = "ghp_" + "A1b2C3d4" * 4 + "E5f6"
    text = f"\x1b[32m{token}\x1b[0m\n\x1b[1mDB_PASSWORD\x1b[0m=s3cret99\x1b[0m done\n"
    expected = (
        "\x1b[32m[REDACTED:github-token]\x1b[0m\n"
        "\x1b[1mDB_PASSWORD\x1b[0m=[REDACTED:generic-password]\x1b[0m done\n"
    )
    assert redact_text(text) == expected


def test_one_megabyte_line() -> None:
    text = "a" * 1_000_000
    assert redact(text) == Redacted(text, ())
    secret = "AKIAIOSFODNN7EXAMPLE"
    assert redact_text(text + " " + secret + " " + text) == text + " [REDACTED:aws-access-key-id] " + text


@pytest.mark.parametrize(
    "text",
    [
        "=" * 200_000,
        "a:" * 100_000,
        "token=abcd1234 " * 20_000,
        ("password: " + "a" * 4000 + " ") * 50,
        '"token": "' * 20_000,
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n" * 5_000,
        "://a:" * 40_000,
        "eyJabcdefgh.eyJabcdefgh." * 8_000,
        "Authorization: Bearer " * 10_000,
        "<password>" * 20_000,
    ],
    ids=lambda t: repr(t[:16]),
)
def test_pathological_input_is_handled(text: str) -> None:
    # Speed on these inputs is measured by benchmarks/redaction.py; here: no crash, stable output.
    result = redact(text)
    assert redact(result.text).text == result.text

"""Throughput of ``carryover.pool.redaction.redact`` on terminal-sized inputs.

Not a test: it prints MB/s so regressions (or a pattern that starts backtracking) are easy to see::

    .venv/bin/python -m benchmarks.redaction [--repeat 3]

Inputs: 1 MB and 5 MB of mixed realistic terminal output (test runs, installs, git, compiler errors,
JSON logs, YAML, a few secrets from the test corpus), and pathological inputs built to make a careless
regex backtrack (long runs of ``=``, ``a:``, quotes, PEM headers without an END line, ...).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from carryover.pool.redaction import redact

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "data" / "secrets_corpus.jsonl"
MB = 1_000_000

_CHUNKS: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"tests/test_store.py::test_case_{r.randrange(999)} PASSED{' ' * 30}[{r.randrange(100):3d}%]\n",
    lambda r: (
        f"Collecting numpy>=1.26\n  Downloading numpy-2.0.{r.randrange(9)}-cp311-cp311-manylinux_2_17_x86_64"
        f".whl (19.{r.randrange(9)} MB)\n"
        "     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 19.5/19.5 MB 41.2 MB/s eta 0:00:00\n"
    ),
    lambda r: (
        f"commit {r.getrandbits(160):040x}\nAuthor: Ada Lovelace <ada@example.com>\n"
        f"Date:   Tue Jun 11 10:{r.randrange(60):02d}:11 2024 +0200\n\n    Fix token refresh race in pool\n\n"
    ),
    lambda r: (
        f"error[E0502]: cannot borrow `items` as mutable because it is also borrowed as immutable\n"
        f"  --> src/pool.rs:{r.randrange(400)}:9\n   |\n"
        f"{r.randrange(400)} |     for item in items.iter() {{\n"
        f"   |                 ------------ immutable borrow occurs here\n"
    ),
    lambda r: (
        json.dumps(
            {
                "ts": f"2024-06-11T10:22:{r.randrange(60):02d}Z",
                "level": r.choice(["INFO", "WARN", "DEBUG"]),
                "msg": "request finished",
                "path": f"/api/v1/items/{r.randrange(10**6)}",
                "status": r.choice([200, 201, 404, 500]),
                "request_id": f"{r.getrandbits(128):032x}",
                "token_count": r.randrange(4096),
            }
        )
        + "\n"
    ),
    lambda r: (
        'Traceback (most recent call last):\n  File "/srv/app/main.py", line 88, in handler\n'
        "    result = client.fetch(url, timeout=timeout)\n"
        f"requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.example.com', port=443): "
        f"Max retries exceeded with url: /v1/items?page={r.randrange(50)}\n"
    ),
    lambda r: (
        f"Step {r.randrange(20)}/20 : RUN pip install --no-cache-dir -r requirements.txt\n"
        f" ---> Running in {r.getrandbits(48):012x}\n"
        f"Successfully built {r.getrandbits(48):012x}\n"
    ),
    lambda r: (
        f"-rw-r--r--  1 ada  staff  {r.randrange(10**6):7d} Jun 11 10:22 module_{r.randrange(99)}.py\n"
        "drwxr-xr-x 12 ada  staff      384 Jun 11 10:22 node_modules\n"
    ),
    lambda r: (
        "spec:\n  containers:\n  - name: web\n    image: carry/web:1.4\n    env:\n"
        "    - name: DB_PASSWORD\n      valueFrom:\n        secretKeyRef: {name: db, key: password}\n"
        f"    ports:\n    - containerPort: {r.randrange(1024, 9000)}\n"
    ),
    lambda r: (
        f'    "node_modules/pkg-{r.randrange(999)}": {{ "version": "1.0.{r.randrange(9)}", '
        f'"integrity": "sha512-{r.randbytes(64).hex()[:86]}==" }},\n'
    ),
)


def _secrets() -> list[str]:
    if not CORPUS.exists():
        return []
    with CORPUS.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def mixed_output(size: int, seed: int = 0) -> str:
    """About ``size`` characters of terminal output, with roughly one corpus snippet per 20 KB."""
    rng = random.Random(seed)
    secrets = _secrets()
    parts: list[str] = []
    total = 0
    while total < size:
        chunk = rng.choice(secrets) if secrets and rng.random() < 0.005 else rng.choice(_CHUNKS)(rng)
        parts.append(chunk)
        total += len(chunk)
    return "".join(parts)[:size]


def pathological() -> dict[str, str]:
    n = 100_000
    return {
        "100k '='": "=" * n,
        "100k 'a:'": "a:" * n,
        "100k 'a='": "a=" * n,
        "100k 'password='": "password=" * n,
        "100k 'token=ab12cd34 ', 1 line": "token=ab12cd34 " * n,
        '100k \'"token": "\'': '"token": "' * (n // 10),
        "100k '\\\\\"'": '\\"' * n,
        "10k PEM headers, no END": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n" * 10_000,
        "100k '://a:'": "://a:" * n,
        "100k 'eyJ'": "eyJaaaaaaaa." * n,
        "1 MB of 'a'": "a" * MB,
        "1 MB line of base64": "".join(random.Random(1).choices("ABCDEFabcdef0123456789+/", k=MB)),
    }


def measure(text: str, repeat: int) -> tuple[float, int]:
    """Best wall time over ``repeat`` runs and the number of findings."""
    best = float("inf")
    findings = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = redact(text)
        best = min(best, time.perf_counter() - start)
        findings = len(result.findings)
    return best, findings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    inputs = {"mixed 1 MB": mixed_output(MB), "mixed 5 MB": mixed_output(5 * MB, seed=1)}
    inputs.update(pathological())
    print(f"{'input':<28} {'size':>10} {'seconds':>9} {'MB/s':>8} {'findings':>9}")
    for name, text in inputs.items():
        seconds, findings = measure(text, args.repeat)
        size = len(text.encode("utf-8"))
        print(f"{name:<28} {size:>10,} {seconds:>9.3f} {size / MB / seconds:>8.1f} {findings:>9}")


if __name__ == "__main__":
    main()

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
import sys
import time
from collections.abc import Callable
from pathlib import Path

from carryover.pool.redaction import redact, redact_text

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "data" / "secrets_corpus.jsonl"
SECRETS = REPO / "tests" / "data" / "secrets" / "secrets.jsonl"
LOOKALIKES = REPO / "tests" / "data" / "secrets" / "lookalikes.jsonl"
WINDOW = 8
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


def _load(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _pieces(secret: str) -> list[str]:
    return [p for p in secret.replace("\\n", "\n").split("\n") if p]


def _caught(text: str, secret: str, output: str) -> bool:
    for piece in _pieces(secret):
        elsewhere = text.replace(piece, "\x00")
        size = min(WINDOW, len(piece))
        for i in range(len(piece) - size + 1):
            window = piece[i : i + size]
            if window in output and window not in elsewhere:
                return False
    return True


def corpus_report() -> None:
    """Caught and damaged over the corpus, by kind where something went wrong; chars/s."""
    secrets, lookalikes = _load(SECRETS), _load(LOOKALIKES)
    missed: dict[str, int] = {}
    chars = 0
    start = time.perf_counter()
    outputs = [redact_text(str(e["text"])) for e in secrets]
    elapsed = time.perf_counter() - start
    for entry, output in zip(secrets, outputs, strict=True):
        chars += len(str(entry["text"]))
        if not _caught(str(entry["text"]), str(entry["secret"]), output):
            missed[str(entry["kind"])] = missed.get(str(entry["kind"]), 0) + 1
    start = time.perf_counter()
    damaged = [e for e in lookalikes if redact_text(str(e["text"])) != e["text"]]
    elapsed_look = time.perf_counter() - start
    look_chars = sum(len(str(e["text"])) for e in lookalikes)
    distinct = {str(e["secret"]) for e in secrets}
    caught = len(secrets) - sum(missed.values())
    print(
        f"corpus: {len(distinct)} secrets, {len({e['kind'] for e in secrets})} kinds, "
        f"{len({e['context'] for e in secrets})} contexts, {len(secrets)} texts; "
        f"{len(lookalikes)} look-alikes of {len({e['kind'] for e in lookalikes})} kinds"
    )
    print(f"caught: {caught}/{len(secrets)} texts ({100 * caught / len(secrets):.1f}%)")
    for kind, count in sorted(missed.items()):
        print(f"  missed {kind}: {count}")
    print(f"damaged look-alikes: {len(damaged)}/{len(lookalikes)}")
    for entry in damaged:
        print(f"  damaged {entry['kind']}: {str(entry['text'])[:80]!r}")
    print(
        f"throughput on the corpus: secrets {chars / elapsed:,.0f} chars/s "
        f"({len(secrets) / elapsed:,.0f} texts/s), look-alikes {look_chars / elapsed_look:,.0f} chars/s"
    )


def shell_hook_report(commands: int) -> None:
    """In a real interactive bash: how long the hook holds the prompt per command (the hook function
    timed with EPOCHREALTIME, commands 0.3 s apart as a person types them), and the CPU one
    recorder takes (run in the foreground the same way the hook runs it detached)."""
    import resource
    import shutil
    import subprocess
    import tempfile

    from carryover.pipeline.capture.shell_hook import shell_hook_snippet

    bash = shutil.which("bash")
    if bash is None:
        print("shell hook: no bash")
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        log = root / "pool" / "shell" / "commands.jsonl"
        (root / "hook.bash").write_text(shell_hook_snippet("bash", log))
        script = f"""source {root / "hook.bash"}
total=0
for i in $(seq {commands}); do
  __carryover_t0=1; history -s "true $i"
  s=${{EPOCHREALTIME/[.,]/}}; __carryover_precmd; e=${{EPOCHREALTIME/[.,]/}}
  total=$((total + e - s)); sleep 0.3
done
echo "$total"
"""
        (root / "bench.sh").write_text(script)
        env = {"HOME": tmp, "PATH": "/usr/bin:/bin", "TERM": "dumb", "HISTFILE": str(root / "h")}
        done = subprocess.run([bash, "--norc", "--noprofile", "-i", str(root / "bench.sh")], env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        micros = int(done.stdout.split()[-1])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            log.exists() and len(log.read_text().splitlines()) >= commands
        ):
            time.sleep(0.1)
        recorded = len(log.read_text().splitlines()) if log.exists() else 0
        one = b'{"v":1,"shell":"bash","pid":1,"started":1,"ended":2,"exit_code":0,"cwd":"/","command":"ls"}'
        runs = 10
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        for _ in range(runs):
            subprocess.run(
                [sys.executable, "-I", "-m", "carryover.pipeline.capture.shell_hook", "--record", str(log)],
                input=one, check=False,
            )  # fmt: skip
        wall = (time.perf_counter() - start) / runs
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / runs
    print(
        f"shell hook (bash): {commands} commands, {recorded} recorded; "
        f"prompt held {micros / commands / 1000:.1f} ms/command; "
        f"detached recorder {1000 * cpu:.0f} ms CPU, {1000 * wall:.0f} ms wall per command"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shell-hook", type=int, default=0, metavar="N", help="also time N hooked commands")
    args = parser.parse_args()

    corpus_report()
    if args.shell_hook:
        shell_hook_report(args.shell_hook)

    inputs = {"mixed 1 MB": mixed_output(MB), "mixed 5 MB": mixed_output(5 * MB, seed=1)}
    inputs.update(pathological())
    print(f"{'input':<28} {'size':>10} {'seconds':>9} {'MB/s':>8} {'Mchars/s':>9} {'findings':>9}")
    for name, text in inputs.items():
        seconds, findings = measure(text, args.repeat)
        size = len(text.encode("utf-8"))
        rate = len(text) / 1e6 / seconds
        mbs = size / MB / seconds
        print(f"{name:<28} {size:>10,} {seconds:>9.3f} {mbs:>8.1f} {rate:>9.2f} {findings:>9}")


if __name__ == "__main__":
    main()

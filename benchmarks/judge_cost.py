"""What the judge costs in a working hour: calls and tokens, from a replayed editor history and the
prompts it would actually send.

    .venv/bin/python -m benchmarks.judge_cost [--out benchmarks/results/<date>-judge-cost.md]

Two measured parts and one stated model:

* **Triggers per hour**, from the recorded editor sessions in tests/data/sessions/ (real-shaped event
  logs with timestamps): failed terminal runs (``terminal.ended`` with a non-zero exit code: the
  judge's ``RUN_FAILED`` trigger) and forwarded diagnostics changes (``diagnostics.changed``: its
  ``DIAGNOSTICS_ARRIVED`` trigger), over the sessions' span (first to last event of each).
* **Tokens per call**, from the prompts the judge builds (``recall.judge.build_messages``) for every
  moment of eval/'s query set (dev and held-out) against eval's pool (236 memories, MiniLM): its
  offline top 30, each candidate trimmed, the moment capped. Tokens are estimated from characters
  (4 characters a token, the usual figure for OpenAI's tokenizers on English and code; no tokenizer
  is installed here), beside a word-and-punctuation count as a rough upper bracket. The answer is capped by
  ``max_tokens`` (400); a typical answer (a 2-3 sentence plan and a few ids) is assumed ~80-120 tokens.
* **Calls per trigger**: features/ahead.py judges at most 3 moments per trigger; the cache answers a
  moment already judged with the same candidates (the same diagnostic forwarded again costs nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SESSIONS = REPO / "tests" / "data" / "sessions"
CHARS_PER_TOKEN = 4.0
ANSWER_TOKENS = (80, 120, 400)
"""A typical answer's tokens (low, high) and the cap."""
_WORDS = re.compile(r"\w+|[^\w\s]")


def triggers() -> dict[str, Any]:
    failed = diagnostics = 0
    span_s = 0.0
    sessions = 0
    for path in sorted(SESSIONS.glob("*.jsonl")):
        times = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            event = json.loads(line)
            times.append(datetime.fromisoformat(event["time"]))
            payload = event.get("payload", {})
            if event["type"] == "terminal.ended" and payload.get("exit_code") not in (0, None):
                failed += 1
            elif event["type"] == "diagnostics.changed":
                diagnostics += 1
        if len(times) > 1:
            span_s += (max(times) - min(times)).total_seconds()
            sessions += 1
    hours = span_s / 3600
    return {
        "sessions": sessions,
        "hours": hours,
        "failed_runs": failed,
        "diagnostics_changes": diagnostics,
        "failed_per_hour": failed / hours if hours else 0.0,
        "diagnostics_per_hour": diagnostics / hours if hours else 0.0,
    }


def prompt_sizes() -> dict[str, Any]:
    from carryover.pool.embedding.minilm import MiniLMEmbedder
    from carryover.recall.judge import CANDIDATES, JudgeConfig, build_messages, offline_top
    from carryover.recall.moment import RecallOptions
    from eval.harness import DATA, build_pool, eval_config, load_pool, load_queries

    embedder = MiniLMEmbedder().load()
    config = JudgeConfig(model="cost", base_url="http://127.0.0.1:9/v1")
    with tempfile.TemporaryDirectory(prefix="carryover-judge-cost-") as work:
        pool = build_pool(
            Path(work) / "pool", load_pool(DATA / "pool.jsonl"), embedder, eval_config(Path(work))
        )
        chars: list[int] = []
        words: list[int] = []
        candidates: list[int] = []
        skipped = 0
        for query in load_queries(DATA / "queries.jsonl"):
            top = offline_top(pool.store, query.moment, RecallOptions(), CANDIDATES)
            if not top:
                skipped += 1
                continue
            messages = build_messages(query.moment, top[:CANDIDATES], config, "0" * 16)
            text = "\n".join(message["content"] for message in messages)
            chars.append(len(text))
            words.append(len(_WORDS.findall(text)))
            candidates.append(len(top[:CANDIDATES]))
    chars.sort()
    words.sort()
    return {
        "moments": len(chars),
        "skipped": skipped,
        "candidates_mean": sum(candidates) / len(candidates),
        "chars_mean": sum(chars) / len(chars),
        "chars_p95": chars[int(0.95 * (len(chars) - 1))],
        "chars_max": chars[-1],
        "words_mean": sum(words) / len(words),
    }


def report(run: dict[str, Any]) -> str:
    t, p = run["triggers"], run["prompts"]
    prompt_tokens = p["chars_mean"] / CHARS_PER_TOKEN
    p95_tokens = p["chars_p95"] / CHARS_PER_TOKEN
    low, high, cap = ANSWER_TOKENS
    per_hour_triggers = t["failed_per_hour"] + t["diagnostics_per_hour"]
    rows = []
    for label, calls in (
        ("replayed rate, 1 new moment a trigger", per_hour_triggers),
        ("replayed rate, 3 new moments a trigger (the bound)", 3 * per_hour_triggers),
        ("a busy hour: 30 failed runs + 60 diagnostics changes, 1 new moment each", 90.0),
        ("that busy hour at the bound (3 a trigger, nothing cached)", 270.0),
    ):
        rows.append(
            f"| {label} | {calls:.0f} | {calls * prompt_tokens / 1000:.0f}k (p95 prompts: "
            f"{calls * p95_tokens / 1000:.0f}k) | {calls * low / 1000:.1f}k–{calls * high / 1000:.1f}k "
            f"(cap {calls * cap / 1000:.0f}k) |"
        )
    hours_seen = t["hours"] * 60
    intro = (
        f"Triggers, replayed from tests/data/sessions/ ({t['sessions']} sessions, {hours_seen:.0f} minutes "
        f"of events): {t['failed_runs']} failed runs and {t['diagnostics_changes']} diagnostics changes, "
        f"i.e. {t['failed_per_hour']:.0f} failed runs and {t['diagnostics_per_hour']:.0f} diagnostics "
        "changes an hour at that density (the sessions are dense: they record the episodes, not the quiet "
        "stretches between them)."
    )
    prompts = (
        f"Prompt per call, over eval's {p['moments']} moments with candidates against its 236-memory "
        f"pool ({p['skipped']} had none: no call): {p['candidates_mean']:.1f} candidates read on "
        f"average; {p['chars_mean']:.0f} characters on average, p95 {p['chars_p95']}, max "
        f"{p['chars_max']} (≈ {prompt_tokens:.0f} tokens on average at {CHARS_PER_TOKEN:g} characters "
        f"a token, p95 ≈ {p95_tokens:.0f}; word-and-punctuation count {p['words_mean']:.0f}, a rough "
        f"upper bracket). Answer: ≤ {cap} tokens (max_tokens); assumed ~{low}–{high} (a 2-3 "
        "sentence plan and a few ids; not measured: no model here)."
    )
    assumptions = (
        "Assumptions: every trigger brings a moment the cache has not seen (an edit between two runs "
        "changes the line, and with it the key); a diagnostic forwarded again unchanged costs nothing "
        "(cached); a failed call is not retried for 5 minutes; retries of one call (≤ 2, within its "
        "deadline) are not counted; the busy hour is an assumed load, not a measured one. Plain lines "
        "never call the judge."
    )
    lines = [
        "# What the judge costs in a working hour",
        "",
        f"`{run['command']}` — {run['date']}.",
        "",
        intro,
        "",
        prompts,
        "",
        "| model of the hour | calls | prompt tokens | answer tokens |",
        "| --- | ---: | ---: | ---: |",
        *rows,
        "",
        assumptions,
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, help="the markdown report (default: results/<date>-judge-cost.md)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    now = datetime.now(timezone.utc)
    run = {
        "command": " ".join(
            [".venv/bin/python", "-m", "benchmarks.judge_cost", *(argv if argv is not None else sys.argv[1:])]
        ),
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "load": " ".join(f"{value:.1f}" for value in os.getloadavg()),
        "triggers": triggers(),
        "prompts": prompt_sizes(),
    }
    text = report(run)
    out = args.out or BENCH / "results" / f"{now.strftime('%Y-%m-%d-%H%M')}-judge-cost.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(run, indent=1), encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

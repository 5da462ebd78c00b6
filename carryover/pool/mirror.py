"""A mirror of the pool's vectors, kept in step with the memories table's version.

The vectors live in float32 ``.npy`` segment files under ``<pool>/mirror/``, each beside an
``.ids.npy`` record array of its rows' ids and creation stamps (written to a temporary file, then
``os.replace``; mode 0600), memory-mapped read-only, so that every process and thread
reading one pool shares one copy through the page cache instead of each holding its own. The columns
search filters on (kind, outcome, status, scope, workspace) and the stamps that say whether a row
changed are held in memory as small integer arrays, one entry per mirror row.

Whenever the table's version differs from the mirror's, :meth:`VectorMirror.sync` reads those small
columns of every row (never the vectors) and compares them with the mirror: rows that are new (or
were deleted and written again) get their vectors read by row id, rows that are gone are marked
dead, everything else is updated in place. The files are never trusted: a manifest names every
segment with its row count and a CRC-32 of its bytes, and a segment that is missing, short, of the
wrong shape or whose checksum differs makes the mirror start again from the table.

Search is exact (one matrix product over the mirror) up to :data:`EXACT_MAX_ROWS` rows; above that,
when the table has a vector index, one ANN query to LanceDB for all of a query's vectors returns ids
only (no vector column, no refine), and the candidates are rescored exactly from the mirror.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import os
import threading
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FORMAT = 2
"""2: a segment's ids and creation stamps are an ``.ids.npy`` record array (1: Arrow IPC)."""
IDS_SUFFIX = ".ids.npy"
MIRROR_DIR = "mirror"
MANIFEST = "manifest.json"
LOCK = "mirror.lock"

EXACT_MAX_ROWS = 20_000
"""Above this many live rows (and with a vector index on the table) search asks LanceDB's ANN index
for candidates and rescores them from the mirror; below it, exact search over the mirror. In
benchmarks/results/2026-12-03-0632-mirror.md the ANN call plus rescoring was already cheaper at 10k
(8.6 vs 27.6 ms p50, recall@5 1.000) and at 100k (42 vs 74 ms, recall@5 0.998), so the ANN path
starts where ``maintain()`` builds the index (``index_min_rows``, 20,000 by default)."""

ANN_OVERSAMPLE = 2
"""ANN candidates asked for per query vector, as a multiple of ``limit`` (before filtering)."""

ANN_MIN_PASSING = 0.25
"""When fewer than this share of rows pass the filters, exact search over the mirror is used even
above :data:`EXACT_MAX_ROWS` (an unfiltered ANN query would need too many candidates)."""

MAX_SEGMENTS = 8
"""More segment files than this (or a fifth of the rows dead) and the next persist compacts them."""

SCAN_COLUMNS = (
    "id",
    "kind",
    "outcome",
    "status",
    "scope",
    "workspace",
    "created_at",
    "updated_at",
    "helpful",
    "unhelpful",
    "embedder",
)
"""The small columns read on every version change (never the vector)."""

PROJECT_SCOPE = "project"
FETCH_CHUNK = 4096

Matrix = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int32]
Mask = npt.NDArray[np.bool_]


class MirrorFileError(ValueError):
    """A mirror file is missing, damaged or does not belong to this pool (it is rebuilt)."""


class VectorsMoved(RuntimeError):
    """Rows the scan saw were rewritten or removed before their vectors were read (a write landed in
    between): the sync scans again."""


SYNC_ATTEMPTS = 4


def microseconds(value: datetime) -> int:
    """A naive-UTC timestamp as integer microseconds since the epoch (the table's timestamp[us])."""
    epoch = datetime(1970, 1, 1)
    delta = value.replace(tzinfo=None) - epoch
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class _Vocabulary:
    """Small integer codes for the distinct strings of one column (code 0 is never used)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def code(self, value: str) -> int:
        found = self._codes.get(value)
        if found is None:
            found = len(self._codes) + 1
            self._codes[value] = found
        return found

    def lookup(self, value: str) -> int:
        """The code of ``value``, or -1 when no row has it."""
        return self._codes.get(value, -1)

    def encode(self, column: Any) -> Codes:
        """Codes for an Arrow string column (dictionary-encoded first, so each distinct string is
        looked up once)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        encoded = pc.dictionary_encode(column)
        table = np.array([self.code(str(value)) for value in encoded.dictionary.to_pylist()], dtype=np.int32)
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        return table[indices] if len(table) else np.zeros(len(indices), dtype=np.int32)


@attrs.frozen
class _Segment:
    name: str
    rows: int
    crc: int
    ids_crc: int


@attrs.frozen
class NewRow:
    """A row this process has just written (the mirror takes it without reading the table)."""

    id: str
    vector: Matrix
    kind: str
    outcome: str
    status: str
    scope: str
    workspace: str
    created_us: int
    updated_us: int


class MemoryCache:
    """Typed memories by id, each kept with the stamp of the row it was read from; an entry whose
    row changed since (another update time, vote count or status) is never returned."""

    def __init__(self, capacity: int = 8192) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[tuple[int, ...], Any]] = OrderedDict()

    def get(self, memory_id: str, stamp: tuple[int, ...]) -> Any | None:
        entry = self._entries.get(memory_id)
        if entry is None or entry[0] != stamp:
            return None
        self._entries.move_to_end(memory_id)
        return entry[1]

    def put(self, memory_id: str, stamp: tuple[int, ...], memory: Any) -> None:
        self._entries[memory_id] = (stamp, memory)
        self._entries.move_to_end(memory_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


class VectorMirror:
    """The vectors and filter columns of one pool's memories table, one row per mirror row.

    Thread-safe. ``directory`` None keeps the mirror in memory only (pools on object storage)."""

    def __init__(self, directory: Path | None, embedder: str, dimension: int) -> None:
        self.directory = directory
        self.embedder = embedder
        self.dimension = dimension
        self.lock = threading.RLock()
        self.version: int | None = None
        self.has_index = False
        self.memories = MemoryCache()
        self.rebuilds = 0
        """How many times the mirror started again from the table (tests and benchmarks read it)."""
        self._reset()

    # ----- state ---------------------------------------------------------------------------------

    def _reset(self) -> None:
        self._blocks: list[Matrix] = []
        self._segments: list[_Segment] = []
        self._tail = np.zeros((0, self.dimension), dtype=np.float32)
        self._tail_rows = 0
        self._ids: list[str] = []
        self._id_array: Any = None
        self._row_of: dict[str, int] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._created = np.zeros(0, dtype=np.int64)
        self._updated = np.zeros(0, dtype=np.int64)
        self._helpful = np.zeros(0, dtype=np.int64)
        self._unhelpful = np.zeros(0, dtype=np.int64)
        self._rowid = np.zeros(0, dtype=np.int64)
        self._kind = np.zeros(0, dtype=np.int32)
        self._outcome = np.zeros(0, dtype=np.int32)
        self._status = np.zeros(0, dtype=np.int32)
        self._scope = np.zeros(0, dtype=np.int32)
        self._workspace = np.zeros(0, dtype=np.int32)
        self._vocab = {name: _Vocabulary() for name in ("kind", "outcome", "status", "scope", "workspace")}
        self.version = None
        self.memories.clear()

    @property
    def rows(self) -> int:
        """Mirror rows, dead ones included."""
        return len(self._ids)

    @property
    def alive_rows(self) -> int:
        return int(self._alive.sum())

    def _persisted_rows(self) -> int:
        return sum(segment.rows for segment in self._segments)

    def _views(self) -> list[Matrix]:
        """The vector blocks in row order: each persisted segment, then the unpersisted tail."""
        views = list(self._blocks)
        if self._tail_rows:
            views.append(self._tail[: self._tail_rows])
        return views

    def matrix_rows(self, rows: Ints) -> Matrix:
        """The vectors of mirror ``rows`` (a copy, in the order given)."""
        out = np.empty((len(rows), self.dimension), dtype=np.float32)
        start = 0
        for view in self._views():
            end = start + len(view)
            inside = (rows >= start) & (rows < end)
            if inside.any():
                out[inside] = view[rows[inside] - start]
            start = end
        return out

    def scores(self, queries: Matrix) -> Matrix:
        """Cosine similarity of every mirror row to every query vector, shape (rows, queries)."""
        parts = [view @ queries.T for view in self._views()]
        if not parts:
            return np.zeros((0, len(queries)), dtype=np.float32)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def ids_of(self, rows: Ints) -> list[str]:
        return [self._ids[int(row)] for row in rows]

    def row_of(self, memory_id: str) -> int | None:
        row = self._row_of.get(memory_id)
        if row is None or not self._alive[row]:
            return None
        return row

    def rowid(self, row: int) -> int:
        return int(self._rowid[row])

    def stamp(self, row: int) -> tuple[int, ...]:
        return (
            int(self._created[row]),
            int(self._updated[row]),
            int(self._helpful[row]),
            int(self._unhelpful[row]),
            int(self._status[row]),
        )

    def _append(
        self,
        ids: Sequence[str],
        vectors: Matrix,
        columns: dict[str, Codes | Ints],
    ) -> None:
        count = len(ids)
        if count == 0:
            return
        needed = self._tail_rows + count
        if needed > len(self._tail):
            grown = np.empty((max(needed, 2 * len(self._tail), 1024), self.dimension), dtype=np.float32)
            grown[: self._tail_rows] = self._tail[: self._tail_rows]
            self._tail = grown
        self._tail[self._tail_rows : needed] = vectors
        self._tail_rows = needed
        first = len(self._ids)
        self._ids.extend(ids)
        self._id_array = None
        for offset, memory_id in enumerate(ids):
            previous = self._row_of.get(memory_id)
            if previous is not None:
                self._alive[previous] = False
            self._row_of[memory_id] = first + offset
        self._alive = np.concatenate([self._alive, np.ones(count, dtype=bool)])
        for name in ("created", "updated", "helpful", "unhelpful", "rowid"):
            setattr(self, f"_{name}", np.concatenate([getattr(self, f"_{name}"), columns[name]]))
        for name in ("kind", "outcome", "status", "scope", "workspace"):
            setattr(self, f"_{name}", np.concatenate([getattr(self, f"_{name}"), columns[name]]))

    # ----- keeping in step -----------------------------------------------------------------------

    def sync(self, table: Any) -> bool:
        """Bring the mirror to the table's current version. Returns True when anything was read."""
        with self.lock:
            version = int(table.version)
            if version == self.version:
                return False
            if self.version is None and not self._ids:
                self._load_files()
            for attempt in range(1, SYNC_ATTEMPTS + 1):
                before = int(table.version)
                scan = table.search().select(list(SCAN_COLUMNS)).with_row_id(True).limit(None).to_arrow()
                last = attempt == SYNC_ATTEMPTS
                if int(table.version) != before and not last:
                    continue  # another thread checked out a newer version meanwhile: read again
                try:
                    self._apply_scan(table, scan)
                except VectorsMoved:
                    if last:
                        raise
                    continue
                # a scan that raced a checkout keeps the older version: the next sync reads again
                self.version = before
                break
            self.has_index = any("vector" in index.columns for index in table.list_indices())
            return True

    def _apply_scan(self, table: Any, scan: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if scan.num_rows and not pc.all(pc.equal(scan.column("embedder"), self.embedder)).as_py():
            logger.info("the pool's vectors are not all from %s: the mirror starts again", self.embedder)
            self._reset()
        created = _micros(scan.column("created_at"))
        if self._ids:
            if self._id_array is None:
                self._id_array = pa.array(self._ids, type=pa.string())
            found = pc.index_in(scan.column("id"), value_set=self._id_array)
            positions = found.to_numpy(zero_copy_only=False)
            valid = ~found.is_null().to_numpy(zero_copy_only=False)
            positions = np.where(valid, np.nan_to_num(positions, nan=0), 0).astype(np.int64)
            # The same id written again (deleted, then added) is a new row: its vector may differ.
            valid &= self._created[positions] == created
        else:
            positions = np.zeros(scan.num_rows, dtype=np.int64)
            valid = np.zeros(scan.num_rows, dtype=bool)
        columns: dict[str, Codes | Ints] = {
            "created": created,
            "updated": _micros(scan.column("updated_at")),
            "helpful": np.asarray(scan.column("helpful").to_numpy(), dtype=np.int64),
            "unhelpful": np.asarray(scan.column("unhelpful").to_numpy(), dtype=np.int64),
            "rowid": np.asarray(scan.column("_rowid").to_numpy(), dtype=np.int64),
        }
        for name in ("kind", "outcome", "status", "scope", "workspace"):
            columns[name] = self._vocab[name].encode(scan.column(name))
        self._alive[:] = False
        kept = positions[valid]
        self._alive[kept] = True
        for name, values in columns.items():
            getattr(self, f"_{name}")[kept] = values[valid]
        fresh = np.flatnonzero(~valid)
        if len(fresh):
            ids = [str(value) for value in scan.column("id").take(pa.array(fresh)).to_pylist()]
            vectors = self._read_vectors(table, ids, np.asarray(columns["rowid"][fresh], dtype=np.int64))
            self._append(ids, vectors, {name: values[fresh] for name, values in columns.items()})

    def _read_vectors(self, table: Any, ids: Sequence[str], rowids: Ints) -> Matrix:
        """The vectors of ``ids`` (at the row ids the scan saw), in the order of ``ids``."""
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        where = {memory_id: index for index, memory_id in enumerate(ids)}
        seen = np.zeros(len(ids), dtype=bool)
        if len(ids) > table.count_rows() // 2:
            batches = [table.search().select(["id", "vector"]).limit(None).to_arrow()]
        else:
            batches = [
                table.take_row_ids([int(r) for r in rowids[start : start + FETCH_CHUNK]])
                .select(["id", "vector"])
                .to_arrow()
                for start in range(0, len(rowids), FETCH_CHUNK)
            ]
        for batch in batches:
            if batch.num_rows == 0:
                continue
            matrix = _vector_matrix(batch.column("vector"), self.dimension)
            for index, memory_id in enumerate(batch.column("id").to_pylist()):
                target = where.get(memory_id)
                if target is not None:
                    out[target] = matrix[index]
                    seen[target] = True
        if not seen.all():
            raise VectorsMoved(f"{int((~seen).sum())} vectors changed while the mirror read them")
        return out

    def apply_write(self, before: int, after: int, added: Sequence[NewRow], merged: dict[str, int]) -> None:
        """Take a write this process made at table version ``before`` that produced ``after``: rows
        ``added`` and the ids ``merged`` (with their new update stamps). When another write came in
        between (``after`` is not ``before + 1``), the next :meth:`sync` reads the table instead."""
        with self.lock:
            if self.version != before or after != before + 1:
                return
            for memory_id, updated in merged.items():
                row = self._row_of.get(memory_id)
                if row is not None:
                    self._updated[row] = updated
                    self._rowid[row] = -1  # rewritten: its row id changed
            if added:
                vectors = np.asarray(np.stack([row.vector for row in added]), dtype=np.float32)
                columns: dict[str, Codes | Ints] = {
                    "created": np.array([row.created_us for row in added], dtype=np.int64),
                    "updated": np.array([row.updated_us for row in added], dtype=np.int64),
                    "helpful": np.zeros(len(added), dtype=np.int64),
                    "unhelpful": np.zeros(len(added), dtype=np.int64),
                    "rowid": np.full(len(added), -1, dtype=np.int64),
                }
                for name in ("kind", "outcome", "status", "scope", "workspace"):
                    vocabulary = self._vocab[name]
                    columns[name] = np.array(
                        [vocabulary.code(getattr(row, name)) for row in added], dtype=np.int32
                    )
                self._append([row.id for row in added], vectors, columns)
            self.version = after

    # ----- searching -----------------------------------------------------------------------------

    def mask(
        self, *, statuses: Sequence[str], kinds: Sequence[str] = (), workspace: str | None = None
    ) -> Mask:
        """Rows that are alive and pass the filters (a project-scoped memory passes only in its own
        workspace when ``workspace`` is given)."""
        passing = self._alive & np.isin(self._status, [self._vocab["status"].lookup(s) for s in statuses])
        if kinds:
            passing &= np.isin(self._kind, [self._vocab["kind"].lookup(kind) for kind in kinds])
        if workspace:
            passing &= (self._scope != self._vocab["scope"].lookup(PROJECT_SCOPE)) | (
                self._workspace == self._vocab["workspace"].lookup(workspace)
            )
        return passing

    def search(
        self, table: Any, queries: Matrix, passing: Mask, limit: int, *, ann: bool | None = None
    ) -> tuple[Ints, Matrix]:
        """The ``limit`` passing rows most similar (by their best query vector) to ``queries``, best
        first, with their similarity to each query vector. ``ann`` None decides by size and index."""
        with self.lock:
            count = int(passing.sum())
            if count == 0 or limit <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros((0, len(queries)), dtype=np.float32)
            if ann is None:
                ann = (
                    self.has_index
                    and self.alive_rows > EXACT_MAX_ROWS
                    and count >= ANN_MIN_PASSING * self.alive_rows
                )
            if ann:
                rows = self._ann_rows(table, queries, passing, limit, count)
                sims = self.matrix_rows(rows) @ queries.T
            else:
                scores = self.scores(queries)
                best = np.where(passing, scores.max(axis=1), -np.inf)
                take = min(limit, count)
                rows = np.argpartition(-best, take - 1)[:take] if take < len(best) else np.arange(len(best))
                rows = rows[np.isfinite(best[rows])]
                sims = scores[rows]
            order = np.lexsort((rows, -sims.max(axis=1))) if len(rows) else rows
            return rows[order][:limit], sims[order][:limit]

    def _ann_rows(self, table: Any, queries: Matrix, passing: Mask, limit: int, count: int) -> Ints:
        """Candidate rows from one ANN query for all of ``queries`` (ids only), filtered here."""
        share = count / max(1, self.alive_rows)
        per_vector = int(np.ceil(limit * ANN_OVERSAMPLE / share))
        query = queries[0] if len(queries) == 1 else [vector for vector in queries]
        found = (
            table.search(query, vector_column_name="vector")
            .distance_type("cosine")
            .select(["id", "_distance"])
            .limit(per_vector)
            .to_arrow()
        )
        rows = [self._row_of.get(memory_id) for memory_id in found.column("id").to_pylist()]
        unique = np.unique(np.array([row for row in rows if row is not None], dtype=np.int64))
        return unique[passing[unique]]

    # ----- dedup ---------------------------------------------------------------------------------

    def nearest(self, vectors: Matrix, kinds: Sequence[str], outcomes: Sequence[str]) -> tuple[Ints, Matrix]:
        """For each of ``vectors`` (with its kind and outcome), the most similar live row of the same
        kind and outcome and that similarity (-1 and -inf when the pool has none)."""
        with self.lock:
            best_rows = np.full(len(vectors), -1, dtype=np.int64)
            best_sims = np.full(len(vectors), -np.inf, dtype=np.float32)
            groups: dict[tuple[int, int], list[int]] = {}
            for index, (kind, outcome) in enumerate(zip(kinds, outcomes, strict=True)):
                key = (self._vocab["kind"].lookup(kind), self._vocab["outcome"].lookup(outcome))
                groups.setdefault(key, []).append(index)
            for (kind_code, outcome_code), members in groups.items():
                if kind_code < 0 or outcome_code < 0:
                    continue
                rows = np.flatnonzero(
                    self._alive & (self._kind == kind_code) & (self._outcome == outcome_code)
                )
                if len(rows) == 0:
                    continue
                picked = np.asarray(members)
                similarities = self.matrix_rows(rows) @ vectors[picked].T
                top = np.argmax(similarities, axis=0)
                best_rows[picked] = rows[top]
                best_sims[picked] = similarities[top, np.arange(len(picked))]
            return best_rows, best_sims

    # ----- files ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _file_lock(self, wait: bool) -> Iterator[bool]:
        """The mirror directory's own lock (never the pool's): yields False when it is busy and
        ``wait`` is False."""
        assert self.directory is not None
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _load_files(self) -> None:
        """Take the segments the manifest names, if every one checks out; otherwise start empty."""
        if self.directory is None or not (self.directory / MANIFEST).exists():
            return
        try:
            persisted = read_persisted(self.directory, self.embedder, self.dimension)
        except (MirrorFileError, OSError, ValueError) as error:
            logger.warning("the vector mirror in %s is not usable (%s): rebuilding it", self.directory, error)
            self.rebuilds += 1
            return
        ids = persisted.ids
        count = len(ids)
        self._blocks = persisted.blocks
        self._segments = persisted.segments
        self._ids = ids
        self._row_of = {memory_id: row for row, memory_id in enumerate(ids)}
        self._created = persisted.created
        self._alive = np.zeros(count, dtype=bool)
        for name in ("updated", "helpful", "unhelpful", "rowid"):
            setattr(self, f"_{name}", np.zeros(count, dtype=np.int64))
        for name in ("kind", "outcome", "status", "scope", "workspace"):
            setattr(self, f"_{name}", np.zeros(count, dtype=np.int32))

    def persist(self, wait: bool = False, compact: bool = False) -> bool:
        """Write what is not on disk yet (a new segment), or compact every segment into one when
        there are many or many dead rows (or ``compact`` and there is more than one). Skipped
        (returns False) when another process is writing the mirror and ``wait`` is False, or the
        mirror has no directory."""
        if self.directory is None:
            return False
        with self.lock, self._file_lock(wait) as locked:
            if not locked or self.version is None:
                return False
            dead = self.rows - self.alive_rows
            many = len(self._segments) + (1 if self._tail_rows else 0) > (1 if compact else MAX_SEGMENTS)
            if many or dead > (0 if compact else max(1000, self.rows // 5)):
                self._compact()
            elif self._tail_rows:
                first = self._persisted_rows()
                segment, block = self._write_segment(
                    [self._tail[: self._tail_rows]], self._ids[first:], self._created[first:]
                )
                self._segments.append(segment)
                self._blocks.append(block)
                self._tail = np.zeros((0, self.dimension), dtype=np.float32)
                self._tail_rows = 0
            else:
                return False
            self._write_manifest()
            return True

    def _compact(self) -> None:
        """One segment holding only the live rows; every in-memory array is renumbered to match."""
        keep = np.flatnonzero(self._alive)
        if len(keep) == 0:
            version = self.version
            self._reset()
            self.version = version
            return
        chunks = [self.matrix_rows(keep[start : start + 16384]) for start in range(0, len(keep), 16384)]
        ids = [self._ids[int(row)] for row in keep]
        segment, block = self._write_segment(chunks, ids, self._created[keep])
        for name in ("alive", "created", "updated", "helpful", "unhelpful", "rowid"):
            setattr(self, f"_{name}", getattr(self, f"_{name}")[keep])
        for name in ("kind", "outcome", "status", "scope", "workspace"):
            setattr(self, f"_{name}", getattr(self, f"_{name}")[keep])
        self._ids = ids
        self._id_array = None
        self._row_of = {memory_id: row for row, memory_id in enumerate(ids)}
        self._segments = [segment]
        self._blocks = [block]
        self._tail = np.zeros((0, self.dimension), dtype=np.float32)
        self._tail_rows = 0

    def _write_segment(
        self, chunks: Sequence[Matrix], ids: Sequence[str], created: Ints
    ) -> tuple[_Segment, Matrix]:
        assert self.directory is not None
        rows = sum(len(chunk) for chunk in chunks)
        name = f"seg-{uuid.uuid4().hex}"
        path = self.directory / f"{name}.npy"
        temporary = self.directory / f"{name}.npy.tmp"
        _private(temporary)
        out = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32, shape=(rows, self.dimension))
        start = 0
        for chunk in chunks:
            out[start : start + len(chunk)] = chunk
            start += len(chunk)
        out.flush()
        crc = _crc(out)
        del out
        os.replace(temporary, path)
        data = _ids_file(ids, created)
        _atomic_write(self.directory / f"{name}{IDS_SUFFIX}", data)
        block = np.load(path, mmap_mode="r", allow_pickle=False)
        return _Segment(name=name, rows=rows, crc=crc, ids_crc=zlib.crc32(data)), block

    def _write_manifest(self) -> None:
        assert self.directory is not None
        manifest = {
            "format": FORMAT,
            "embedder": self.embedder,
            "dimension": self.dimension,
            "version": self.version,
            "segments": [attrs.asdict(segment) for segment in self._segments],
        }
        _atomic_write(self.directory / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))
        referenced = {segment.name for segment in self._segments}
        for path in self.directory.glob("seg-*"):
            if path.name.split(".", 1)[0] not in referenced:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


@attrs.frozen
class PersistedVectors:
    """What a mirror directory holds on disk: its segments' vectors (memory-mapped), the id and
    creation stamp of every row, in row order (a later row of the same id supersedes an earlier)."""

    segments: list[_Segment]
    blocks: list[Matrix]
    ids: list[str]
    created: Ints

    @property
    def rows(self) -> int:
        return len(self.ids)

    def scores(self, queries: Matrix) -> Matrix:
        """Cosine similarity of every row to every query vector, shape (rows, queries)."""
        parts = [block @ queries.T for block in self.blocks]
        if not parts:
            return np.zeros((0, len(queries)), dtype=np.float32)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]


def read_persisted(directory: Path, embedder: str, dimension: int) -> PersistedVectors:
    """The segments the manifest in ``directory`` names, each checked against its size and
    checksums. Raises MirrorFileError (or OSError) when any does not check out. Needs numpy only,
    so that a read command can search without loading LanceDB."""
    segments = _read_manifest(directory, embedder, dimension)
    blocks: list[Matrix] = []
    ids: list[str] = []
    created: list[Ints] = []
    for segment in segments:
        block, segment_ids, segment_created = _open_segment(directory, segment, dimension)
        blocks.append(block)
        ids.extend(segment_ids)
        created.append(segment_created)
    return PersistedVectors(
        segments=list(segments),
        blocks=blocks,
        ids=ids,
        created=np.concatenate(created) if created else np.zeros(0, dtype=np.int64),
    )


def _read_manifest(directory: Path, embedder: str, dimension: int) -> list[_Segment]:
    try:
        raw = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        if raw["format"] != FORMAT or raw["embedder"] != embedder or raw["dimension"] != dimension:
            raise MirrorFileError("it was made for another embedder or format")
        return [
            _Segment(name=str(s["name"]), rows=int(s["rows"]), crc=int(s["crc"]), ids_crc=int(s["ids_crc"]))
            for s in raw["segments"]
        ]
    except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MirrorFileError(f"the manifest is damaged: {error}") from error


def _open_segment(directory: Path, segment: _Segment, dimension: int) -> tuple[Matrix, list[str], Ints]:
    if not segment.name.startswith("seg-") or "/" in segment.name:
        raise MirrorFileError(f"unexpected segment name {segment.name!r}")
    path = directory / f"{segment.name}.npy"
    matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    if matrix.dtype != np.float32 or matrix.shape != (segment.rows, dimension):
        raise MirrorFileError(f"{path.name} holds {matrix.shape} {matrix.dtype}")
    if not matrix.flags.c_contiguous or _crc(matrix) != segment.crc:
        raise MirrorFileError(f"{path.name} does not match its checksum")
    ids_path = directory / f"{segment.name}{IDS_SUFFIX}"
    data = ids_path.read_bytes()
    if zlib.crc32(data) != segment.ids_crc:
        raise MirrorFileError(f"{ids_path.name} does not match its checksum")
    try:
        table = np.load(io.BytesIO(data), allow_pickle=False)
        ids = [str(value) for value in table["id"].tolist()]
        created = np.asarray(table["created_us"], dtype=np.int64)
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise MirrorFileError(f"{ids_path.name} is damaged: {error}") from error
    if len(ids) != segment.rows:
        raise MirrorFileError(f"{ids_path.name} names {len(ids)} rows, not {segment.rows}")
    return matrix, ids, created


def _ids_file(ids: Sequence[str], created: Ints) -> bytes:
    """The ``.ids.npy`` bytes of a segment: one record (id, creation stamp) per row."""
    width = max((len(memory_id) for memory_id in ids), default=1) or 1
    table = np.zeros(len(ids), dtype=[("id", f"<U{width}"), ("created_us", "<i8")])
    table["id"] = list(ids)
    table["created_us"] = created
    buffer = io.BytesIO()
    np.save(buffer, table, allow_pickle=False)
    return buffer.getvalue()


def _private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    _private(temporary)
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _crc(matrix: Matrix) -> int:
    return zlib.crc32(np.ascontiguousarray(matrix).data.cast("B"))


def _micros(column: Any) -> Ints:
    import pyarrow as pa

    return np.asarray(column.cast(pa.timestamp("us")).cast(pa.int64()).to_numpy(), dtype=np.int64)


def _vector_matrix(column: Any, dimension: int) -> Matrix:
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    flat = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    return flat.reshape(len(column), dimension)

"""A read replica of the memories table in SQLite, so that ``carryover search``, ``show`` and ``list``
answer without loading LanceDB when no daemon runs (``import lancedb`` alone is most of a cold read
command).

It is a cache, never the source of truth, like the vector mirror beside it in ``<pool>/mirror/``:
only :meth:`Replica.sync` writes it, from the table (``MemoryStore.sync_replica``), and a reader
(:func:`open_lean_pool`) uses it only while it is exactly in step with the pool:

- the table version it was made at is the newest version on disk (:func:`table_version_on_disk`
  reads the table's ``_versions`` folder, which needs no LanceDB);
- the pool's meta file (``pool.json``) is byte for byte the one it was made with;
- for a search, every retrievable memory's vector is in the persisted mirror at its creation stamp.

Otherwise the read command opens the pool as before, and brings the replica up to date after it
answered. The text is the table's own, redacted before it was ever stored; the file is mode 0600.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import numpy as np

from carryover.pool.errors import embedder_mismatch
from carryover.pool.mirror import MIRROR_DIR, MirrorFileError, PersistedVectors, microseconds, read_persisted
from carryover.pool.records import (
    RETRIEVABLE_STATUSES,
    Kind,
    Memory,
    Scope,
    SearchHit,
    SearchQuery,
    Status,
    row_to_memory,
)

if TYPE_CHECKING:
    from carryover.pool.config import StoreConfig
    from carryover.pool.embedding import Embedder

logger = logging.getLogger(__name__)

REPLICA_FILE = "records.sqlite3"
FORMAT = 2
META_FILE = "pool.json"
MEMORIES_TABLE = "memories"
STAMP_COLUMNS = ("id", "created_at", "updated_at", "helpful", "unhelpful", "status")
"""What says a row changed (the vector mirror's cache uses the same stamp): every write of a memory
sets ``updated_at``, a vote changes a count, a pin or rejection the status."""
SYNC_ATTEMPTS = 4
_DATETIME_COLUMNS = ("created_at", "updated_at")
_MANIFEST_NAME = re.compile(r"^([0-9]{1,20})\.manifest$")
_V2_NAMING = 1 << 63
_U64_MAX = (1 << 64) - 1

_TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS memories (
        id TEXT PRIMARY KEY,
        stamp TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        scope TEXT NOT NULL,
        workspace TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, record TEXT NOT NULL)",
)
"""The small columns a search filters and matches on in ``memories`` (a scan of them reads little), the
memories' text in ``records``."""


def table_version_on_disk(pool_dir: Path, table: str = MEMORIES_TABLE) -> int | None:
    """The newest committed version of a Lance table in a local pool, from its manifest files'
    names (``N.manifest``, or ``2**64 - 1 - N`` in Lance's second naming scheme); None when the
    folder is missing or holds names this does not know (then nobody should guess)."""
    try:
        names = os.listdir(pool_dir / f"{table}.lance" / "_versions")
    except OSError:
        return None
    numbers: list[int] = []
    for name in names:
        if not name.endswith(".manifest"):
            continue
        match = _MANIFEST_NAME.match(name)
        if match is None:
            return None
        numbers.append(int(match.group(1)))
    if not numbers:
        return None
    inverted = [number >= _V2_NAMING for number in numbers]
    if any(inverted) != all(inverted) or max(numbers) > _U64_MAX:
        return None
    return _U64_MAX - min(numbers) if inverted[0] else max(numbers)


def pool_meta_digest(pool_dir: Path) -> str | None:
    try:
        return hashlib.sha256((pool_dir / META_FILE).read_bytes()).hexdigest()
    except OSError:
        return None


def stamp_of(row: Mapping[str, Any]) -> str:
    return ":".join(
        (
            str(microseconds(row["created_at"])),
            str(microseconds(row["updated_at"])),
            str(int(row["helpful"])),
            str(int(row["unhelpful"])),
            str(row["status"]),
        )
    )


def encode_row(row: Mapping[str, Any]) -> str:
    """A table row's read columns as JSON (times in ISO form, to the microsecond)."""
    plain = {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in row.items()
        if name not in ("vector", "_rowid")
    }
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":"))


def decode_row(text: str) -> Memory:
    row = json.loads(text)
    for name in _DATETIME_COLUMNS:
        row[name] = datetime.fromisoformat(row[name])
    return row_to_memory(row)


class TableSource(Protocol):
    """The memories table as :meth:`Replica.sync` reads it (``MemoryStore`` supplies it)."""

    def version(self) -> int: ...

    def stamps(self) -> list[dict[str, Any]]:
        """Every row's :data:`STAMP_COLUMNS`."""
        ...

    def rows(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The read columns of the rows ``ids`` (every row's when ``ids`` is most of the table)."""
        ...


@attrs.frozen
class ReplicaMeta:
    format: int
    embedder: str
    dimension: int
    pool_meta: str
    version: int


class Replica:
    """The replica file of one local pool: written by :meth:`sync`, read by :class:`LeanPool`."""

    def __init__(self, pool_dir: Path) -> None:
        self.pool_dir = pool_dir
        self.path = pool_dir / MIRROR_DIR / REPLICA_FILE

    # ----- writing -------------------------------------------------------------------------------

    def sync(self, source: TableSource, *, embedder: str, dimension: int) -> bool:
        """Bring the replica to the table's current version: rows new or changed since it was made
        are read and written, rows gone are deleted, in one transaction. Returns False when it was
        in step already. When a write lands while it reads, it reads again (at most
        :data:`SYNC_ATTEMPTS` times, then leaves the replica as it was: readers fall back)."""
        digest = pool_meta_digest(self.pool_dir)
        if digest is None:
            return False
        for _attempt in range(SYNC_ATTEMPTS):
            version = source.version()
            wanted = ReplicaMeta(FORMAT, embedder, dimension, digest, version)
            with self._writing() as connection:
                stored = _read_meta(connection)
                if stored == wanted:
                    return False
                if stored is None or stored.format != FORMAT:
                    connection.execute("DROP TABLE IF EXISTS memories")
                    connection.execute("DROP TABLE IF EXISTS records")
                    for statement in _TABLES:
                        connection.execute(statement)
                elif attrs.evolve(stored, version=version) != wanted:
                    connection.execute("DELETE FROM memories")
                    connection.execute("DELETE FROM records")
                elif stored.version > version:
                    return False  # another process wrote a newer version already
                known = dict(connection.execute("SELECT id, stamp FROM memories").fetchall())
                current = {str(row["id"]): stamp_of(row) for row in source.stamps()}
                changed = [memory_id for memory_id, stamp in current.items() if known.get(memory_id) != stamp]
                gone = [(memory_id,) for memory_id in known if memory_id not in current]
                rows = source.rows(changed) if changed else []
                if source.version() != version or not set(changed) <= {str(row["id"]) for row in rows}:
                    connection.rollback()
                    continue
                connection.executemany("DELETE FROM memories WHERE id = ?", gone)
                connection.executemany("DELETE FROM records WHERE id = ?", gone)
                written = [row for row in rows if str(row["id"]) in current]
                connection.executemany(
                    "INSERT OR REPLACE INTO memories VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [_replica_row(row) for row in written],
                )
                connection.executemany(
                    "INSERT OR REPLACE INTO records VALUES (?, ?)",
                    [(str(row["id"]), encode_row(row)) for row in written],
                )
                _write_meta(connection, wanted)
                logger.debug(
                    "replica of %s at version %d: %d rows written, %d deleted",
                    self.pool_dir,
                    version,
                    len(rows),
                    len(gone),
                )
                return True
        logger.info("the replica of %s was not brought up to date: the pool kept changing", self.pool_dir)
        return False

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (one writer at a time across processes), committed when the block
        ends without an error; a damaged file is started again."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            connection = self._open_for_writing()
        except sqlite3.DatabaseError as error:
            logger.warning("the replica %s is not usable (%s): it is made again", self.path, error)
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self.path}{suffix}")
            connection = self._open_for_writing()
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            if connection.in_transaction:
                connection.commit()
                # The log holds the pages as they were: emptied, so that nothing deleted stays on
                # disk there (a reader still inside it defers this to the next sync).
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            if connection.in_transaction:
                connection.rollback()
            connection.close()

    def _open_for_writing(self) -> sqlite3.Connection:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA secure_delete=ON")  # a forgotten memory's text is zeroed
            for statement in _TABLES:
                connection.execute(statement)
        except sqlite3.DatabaseError:
            connection.close()
            raise
        return connection

    # ----- reading -------------------------------------------------------------------------------

    def open_reading(self) -> sqlite3.Connection | None:
        """A connection inside one read transaction (one snapshot for the whole command); None when
        there is no replica or it cannot be read."""
        if not self.path.is_file():
            return None
        try:
            uri = f"{self.path.resolve().as_uri()}?mode=rw"
            connection = sqlite3.connect(uri, uri=True, timeout=5.0, isolation_level=None)
        except (sqlite3.Error, OSError, ValueError):
            return None
        try:
            connection.execute("PRAGMA query_only=1")
            connection.execute("BEGIN")
            connection.execute("SELECT count(*) FROM meta").fetchone()
        except sqlite3.Error as error:
            logger.debug("the replica %s cannot be read: %s", self.path, error)
            connection.close()
            return None
        return connection


def _read_meta(connection: sqlite3.Connection) -> ReplicaMeta | None:
    values = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    try:
        return ReplicaMeta(
            format=int(values["format"]),
            embedder=str(values["embedder"]),
            dimension=int(values["dimension"]),
            pool_meta=str(values["pool_meta"]),
            version=int(values["version"]),
        )
    except (KeyError, ValueError):
        return None


def _write_meta(connection: sqlite3.Connection, meta: ReplicaMeta) -> None:
    connection.executemany(
        "INSERT OR REPLACE INTO meta VALUES (?, ?)",
        [(name, str(value)) for name, value in attrs.asdict(meta).items()],
    )


def _replica_row(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        str(row["id"]),
        stamp_of(row),
        microseconds(row["created_at"]),
        microseconds(row["updated_at"]),
        str(row["kind"]),
        str(row["status"]),
        str(row["scope"]),
        str(row["workspace"]),
    )


# ----- the lean read path ------------------------------------------------------------------------


class LeanPool:
    """What the read commands need of a pool (``recall.suggest``'s candidates, ``show``, ``list``),
    answered from the replica and the persisted vector mirror without LanceDB. Exact search at any
    size. Used for one command, then closed."""

    remote = False

    def __init__(
        self,
        config: StoreConfig,
        connection: sqlite3.Connection,
        meta: ReplicaMeta,
        vectors: PersistedVectors | None,
    ) -> None:
        self.config = config
        self.meta = meta
        self._connection = connection
        self._vectors = vectors
        self._embedder: Embedder | None = None
        self._searchable: _Searchable | None = None

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> LeanPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ----- search --------------------------------------------------------------------------------

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        embedder = self._embedder_checked()
        return np.asarray(embedder.embed(list(texts)), dtype=np.float32)

    def _embedder_checked(self) -> Embedder:
        if self._embedder is None:
            from carryover.pool.embedding import CachedEmbedder
            from carryover.pool.embedding.factory import make_embedder

            self._embedder = CachedEmbedder(make_embedder(self.config.embedder))
        if self._embedder.name != self.meta.embedder or self._embedder.dimension != self.meta.dimension:
            raise embedder_mismatch(
                self.meta.embedder, self.meta.dimension, self._embedder.name, self._embedder.dimension
            )
        return self._embedder

    def candidates(
        self,
        vectors: np.ndarray,
        *,
        kinds: Sequence[Kind | str] = (),
        workspace: str | None = None,
        limit: int,
    ) -> list[tuple[Memory, np.ndarray]]:
        """As ``MemoryStore.candidates``: the ``limit`` retrievable memories most similar to any of
        ``vectors``, best first, each with its similarity to every query vector."""
        self._embedder_checked()
        queries = np.ascontiguousarray(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))
        if queries.shape[1] != self.meta.dimension:
            raise ValueError(
                f"query vectors have {queries.shape[1]} dimensions, the pool {self.meta.dimension}"
            )
        searchable = self._searchable_rows()
        passing = searchable.mask(kinds=[Kind(kind).value for kind in kinds], workspace=workspace)
        count = int(passing.sum())
        if count == 0 or limit <= 0:
            return []
        assert self._vectors is not None
        rows = searchable.mirror_rows[passing]
        scores = self._vectors.scores(queries)[rows]
        best = scores.max(axis=1)
        take = min(limit, count)
        top = np.argpartition(-best, take - 1)[:take] if take < len(best) else np.arange(len(best))
        order = top[np.lexsort((rows[top], -best[top]))]
        ids = [searchable.ids[index] for index in np.flatnonzero(passing)[order]]
        memories = self._memories(ids)
        return [(memories[memory_id], scores[index]) for memory_id, index in zip(ids, order, strict=True)]

    def prepare_search(self) -> None:
        """Match every retrievable memory to its mirror row; raises StaleReplica when one has none."""
        self._searchable_rows()

    def _searchable_rows(self) -> _Searchable:
        if self._searchable is None:
            statuses = [status.value for status in RETRIEVABLE_STATUSES]
            found = self._connection.execute(
                f"SELECT id, created_us, kind, scope, workspace FROM memories "
                f"WHERE status IN ({', '.join('?' * len(statuses))})",
                statuses,
            ).fetchall()
            searchable = _searchable(found, self._vectors)
            if searchable is None:
                raise StaleReplica("a retrievable memory's vector is not in the mirror")
            self._searchable = searchable
        return self._searchable

    def search(self, query: SearchQuery) -> list[SearchHit]:
        """As ``MemoryStore.search``."""
        from carryover.pool.ranking import search_pool

        return search_pool(self, query, self.config.ranking)

    # ----- show and list -------------------------------------------------------------------------

    def _memories(self, ids: Sequence[str]) -> dict[str, Memory]:
        found: dict[str, Memory] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            query = f"SELECT id, record FROM records WHERE id IN ({', '.join('?' * len(chunk))})"
            found.update(
                (memory_id, decode_row(record))
                for memory_id, record in self._connection.execute(query, chunk)
            )
        return found

    def get(self, memory_id: str) -> Memory | None:
        return self._memories([memory_id]).get(memory_id)

    def get_required(self, memory_id: str) -> Memory:
        from carryover.pool.errors import MemoryNotFound

        memory = self.get(memory_id)
        if memory is None:
            raise MemoryNotFound(memory_id)
        return memory

    def resolve_id(self, prefix: str) -> str:
        """As ``MemoryStore.resolve_id``: the full id of the one memory whose id starts with ``prefix``."""
        from carryover.pool.errors import MemoryNotFound

        if self.get(prefix) is not None:
            return prefix
        ids = [memory_id for (memory_id,) in self._connection.execute("SELECT id FROM memories")]
        matches = [memory_id for memory_id in ids if memory_id.startswith(prefix)]
        if len(matches) == 1:
            return str(matches[0])
        if not matches:
            raise MemoryNotFound(prefix)
        raise MemoryNotFound(f"{prefix} is ambiguous: {len(matches)} memories start with it")

    def list_memories(
        self, kind: Kind | None = None, status: Status | None = None, limit: int | None = None
    ) -> list[Memory]:
        """As ``MemoryStore.list_memories``: newest change first; without a status, all but proposals."""
        clauses = ["status = ?" if status is not None else "status != ?"]
        values: list[object] = [status.value if status is not None else Status.PROPOSED.value]
        if kind is not None:
            clauses.append("kind = ?")
            values.append(kind.value)
        # (updated_us, id) descending is the store's order: microseconds keep the times' order, and
        # SQLite compares text by its UTF-8 bytes, which keeps the code points' order.
        query = (
            f"SELECT records.record FROM memories JOIN records USING (id) WHERE {' AND '.join(clauses)} "
            "ORDER BY memories.updated_us DESC, memories.id DESC"
        )
        if limit is not None:
            query += " LIMIT ?"
            values.append(limit)
        return [decode_row(record) for (record,) in self._connection.execute(query, values)]


class StaleReplica(RuntimeError):
    """The replica or the mirror is not in step with the pool (the caller opens the pool instead)."""


@attrs.frozen
class _Searchable:
    """The retrievable memories in replica order, with their row in the persisted mirror."""

    ids: list[str]
    mirror_rows: np.ndarray
    kind: np.ndarray
    scope: np.ndarray
    workspace: np.ndarray

    def mask(self, *, kinds: Sequence[str], workspace: str | None) -> np.ndarray:
        """As the mirror's mask: only ``kinds`` when given, and with a ``workspace`` no
        project-scoped memory of another one."""
        passing = np.ones(len(self.ids), dtype=bool)
        if kinds:
            passing &= np.isin(self.kind, list(kinds))
        if workspace:
            passing &= (self.scope != Scope.PROJECT.value) | (self.workspace == workspace)
        return passing


def _searchable(
    found: Sequence[tuple[str, int, str, str, str]], vectors: PersistedVectors | None
) -> _Searchable | None:
    """None when any of ``found`` has no vector in the mirror at its creation stamp."""
    if vectors is None:
        return None
    row_of: dict[str, tuple[int, int]] = {}
    for row, (memory_id, created) in enumerate(zip(vectors.ids, vectors.created.tolist(), strict=True)):
        row_of[memory_id] = (row, created)  # a later row of the same id supersedes an earlier
    rows = np.empty(len(found), dtype=np.int64)
    for index, (memory_id, created, *_rest) in enumerate(found):
        located = row_of.get(memory_id)
        if located is None or located[1] != created:
            return None
        rows[index] = located[0]
    return _Searchable(
        ids=[item[0] for item in found],
        mirror_rows=rows,
        kind=np.array([item[2] for item in found], dtype=object),
        scope=np.array([item[3] for item in found], dtype=object),
        workspace=np.array([item[4] for item in found], dtype=object),
    )


def open_lean_pool(config: StoreConfig, *, search: bool) -> LeanPool | None:
    """The pool's replica, when it is in step with the pool (and, for a ``search``, the mirror holds
    every retrievable memory's vector); None when the command must open the pool itself: a pool on
    object storage, no replica yet, a write since it was made, a damaged or foreign file."""
    if config.remote:
        return None
    pool_dir = Path(config.pool_dir)
    replica = Replica(pool_dir)
    connection = replica.open_reading()
    if connection is None:
        return None
    try:
        meta = _read_meta(connection)
        if (
            meta is None
            or meta.format != FORMAT
            or meta.pool_meta != pool_meta_digest(pool_dir)
            or meta.version != table_version_on_disk(pool_dir)
        ):
            connection.close()
            return None
        vectors = None
        if search:
            vectors = read_persisted(pool_dir / MIRROR_DIR, meta.embedder, meta.dimension)
        pool = LeanPool(config, connection, meta, vectors)
        if search:
            pool.prepare_search()
    except (StaleReplica, MirrorFileError, OSError, ValueError, sqlite3.Error) as error:
        logger.debug("the replica of %s is not used: %s", pool_dir, error)
        connection.close()
        return None
    return pool

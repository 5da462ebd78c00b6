"""The memory pool: one LanceDB database on disk shared by every project, language and editor window."""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, ParamSpec, TypeVar

import attrs
import numpy as np

from carryover.pool.config import EMBED_KEYS, LEGACY_EMBED_KEY, StoreConfig
from carryover.pool.embedding import CachedEmbedder, Embedder
from carryover.pool.errors import (
    EmbedderMismatch,
    MemoryNotFound,
    PoolCorrupt,
    PoolError,
    PoolReadError,
    PoolVersionError,
    embedder_mismatch,
)
from carryover.pool.locking import InProcessLock, PoolLock
from carryover.pool.mirror import MIRROR_DIR, NewRow, VectorMirror, microseconds
from carryover.pool.priority import Pace, no_pace
from carryover.pool.ranking import search_pool
from carryover.pool.records import (
    RETRIEVABLE_STATUSES,
    Kind,
    Memory,
    MemoryDraft,
    Outcome,
    SearchHit,
    SearchQuery,
    Status,
    WriteResult,
    row_to_memory,
)
from carryover.pool.redaction import redact_draft, redact_text
from carryover.pool.schema import (
    EPISODES_TABLE,
    EVENTS_TABLE,
    MEMORIES_TABLE,
    META_TABLE,
    MIGRATIONS,
    SCHEMA_VERSION,
    EpisodeRow,
    EventRow,
    MemoryFields,
    memory_arrow_schema,
    memory_row_model,
)

logger = logging.getLogger(__name__)

META_FILE = "pool.json"
LOCK_FILE = "write.lock"
_READ_COLUMNS = [name for name in MemoryFields.model_fields if name != "embedding_key"]
_MIRROR_CREATION = threading.Lock()
READ_SLICE_ROWS = 256
ID_CHUNK = 1000
"""Ids in one ``isin`` filter."""


P = ParamSpec("P")
R = TypeVar("R")


def storage_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Turn LanceDB's and the file system's I/O failures into one plain PoolReadError naming the
    pool and what to do (a full disk, a read-only file system, no permission, too many open files:
    a PoolStorageError), never Rust source paths; the original error goes to the debug log."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (OSError, RuntimeError) as error:
            if isinstance(error, PoolError):
                raise
            from carryover.pool.errors import pool_read_error, storage_error

            store = args[0]
            where = getattr(store, "_dir", None) or getattr(store, "location", "?")
            plain = storage_error(error, where)
            if plain is None and "lance" not in str(error).lower():
                raise
            logger.debug("%s on the pool at %s failed", method.__name__, where, exc_info=error)
            raise (plain or pool_read_error(error, where)) from error

    return wrapper


@attrs.frozen
class PoolMeta:
    schema_version: int
    embedder: str
    dimension: int
    created_at: str
    embed_key: str = LEGACY_EMBED_KEY
    """What is embedded of each memory (``embedding_key``); every vector of the pool uses it."""


@attrs.frozen
class PoolCounts:
    total: int
    by_kind: dict[str, int]
    by_outcome: dict[str, int]
    by_language: dict[str, int]
    by_status: dict[str, int]
    helpful: int
    unhelpful: int
    merged: int


def utcnow() -> datetime:
    """Timestamps are stored as naive UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def embedding_key(draft: MemoryDraft | Memory, mode: str) -> str:
    """The text that is embedded for a memory: its title (as the paper did for insights), title and
    description together, or ("all") title, description and content."""
    parts = [draft.title.strip()]
    if mode in ("title+description", "all"):
        parts.append(draft.description.strip())
    if mode == "all":
        parts.append(draft.content.strip())
    return ". ".join(part for part in parts if part)


def new_row(
    draft: MemoryDraft, memory_id: str, key: str, vector: np.ndarray, *, now: datetime, embedder: str
) -> dict[str, Any]:
    """The memories table's row of a new memory (every column; the team pool adds its own two)."""
    return {
        "id": memory_id,
        "kind": draft.kind.value,
        "title": draft.title,
        "description": draft.description,
        "content": draft.content,
        "outcome": draft.outcome.value,
        "languages": list(draft.languages),
        "tools": list(draft.tools),
        "scope": draft.scope.value,
        "status": draft.status.value,
        "when_not": draft.when_not,
        "check_command": draft.check_command,
        "episode_ids": list(draft.provenance.episode_ids),
        "workspace": draft.provenance.workspace,
        "source": draft.provenance.source,
        "distilled_by": draft.provenance.distilled_by,
        "created_at": now,
        "updated_at": now,
        "helpful": 0,
        "unhelpful": 0,
        "merged_count": 0,
        "reject_reason": "",
        "embedding_key": key,
        "embedder": embedder,
        "vector": np.asarray(vector, dtype=np.float32).tolist(),
    }


def _group_label(kind: Kind, outcome: Outcome) -> str:
    """Memories merge only within one kind and one outcome."""
    return f"{kind.value}/{outcome.value}"


def _union(first: Iterable[str], second: Iterable[str]) -> list[str]:
    return sorted(set(first) | set(second))


class MemoryStore:
    """Typed access to one pool. Safe to share between threads; several processes may open the same
    pool at once (every write holds the pool's file lock and re-reads the latest version first)."""

    def __init__(self, config: StoreConfig, embedder: Embedder, refresh_interval_s: float = 2.0) -> None:
        self.config = config
        self._raw_embedder = embedder.inner if isinstance(embedder, CachedEmbedder) else embedder
        self.embedder: Embedder = CachedEmbedder(self._raw_embedder)
        self._refresh_interval_s = refresh_interval_s
        self._last_refresh = 0.0
        self._dir = config.pool_dir
        self.location = config.location
        """The directory or the object-store URI (``s3://bucket/pool``) of the pool."""
        self.remote = config.remote
        self._lock: PoolLock
        self._mirror: VectorMirror | None = None
        try:
            self._open()
        except OSError as error:  # the file system refused (read-only, full, permissions): said plainly
            logger.debug("opening the pool at %s failed", self.location, exc_info=error)
            from carryover.pool.errors import pool_read_error

            raise pool_read_error(error, self.location) from error
        self._check_schema()

    def _open(self) -> None:
        if self.remote:
            self._lock = InProcessLock(self.location)
        else:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._lock = PoolLock(self._dir / LOCK_FILE)
        with self._lock.hold():
            self._db = self._connect()
            self.meta = self._load_or_create_meta()
            try:
                schema = memory_arrow_schema(self.meta.dimension, primary_key=self.remote)
                self._memories = self._open_table(MEMORIES_TABLE, schema)
                self._events = self._open_table(EVENTS_TABLE, EventRow.to_arrow_schema())
                self._episodes = self._open_table(EPISODES_TABLE, EpisodeRow.to_arrow_schema())
            except (OSError, ValueError, RuntimeError) as error:
                if self.remote:
                    raise PoolReadError(f"the pool at {self.location} cannot be opened: {error}") from error
                raise PoolCorrupt(f"the pool at {self._dir} cannot be opened: {error}") from error
            self._migrate()
        if self.meta.embed_key != self.config.embed_key:
            logger.info(
                "the pool at %s embeds %s of each memory (configured for new pools: %s); "
                "`carryover reembed --key %s` moves it",
                self.location,
                self.meta.embed_key,
                self.config.embed_key,
                self.config.embed_key,
            )

    # ----- opening -------------------------------------------------------------------------------

    def _connect(self) -> Any:
        import lancedb

        if not self.remote:
            return lancedb.connect(str(self._dir))
        # Credentials and endpoint come from the store's own environment (AWS_*, GOOGLE_*, AZURE_*);
        # only the time limits are ours, so an unreachable bucket fails in seconds, not minutes.
        seconds = self.config.team.timeout_s
        options = {
            "timeout": f"{seconds:g}s",
            "connect_timeout": f"{seconds:g}s",
            "client_max_retries": "3",
            "client_retry_timeout": f"{max(1, round(seconds))}",
        }
        try:
            return lancedb.connect(self.location, storage_options=options)
        except (OSError, ValueError, RuntimeError) as error:
            raise PoolReadError(f"the pool at {self.location} cannot be reached: {error}") from error

    def _open_table(self, name: str, schema: Any) -> Any:
        """Open the table ``name``, creating it empty with ``schema`` if the pool has none. On object
        storage another machine may create it at the same moment: then the table it made is opened."""
        try:
            return self._db.open_table(name)
        except ValueError:  # LanceDB's "table not found"
            pass
        try:
            return self._db.create_table(name, schema=schema, exist_ok=True)
        except (OSError, ValueError, RuntimeError):
            if not self.remote:
                raise
            logger.info("%s: %s was created by another writer at the same time", self.location, name)
            return self._db.open_table(name)

    def _load_or_create_meta(self) -> PoolMeta:
        if self.remote:
            return self._load_or_create_remote_meta()
        path = self._dir / META_FILE
        if not path.exists():
            if (self._dir / f"{MEMORIES_TABLE}.lance").exists():
                raise PoolCorrupt(f"{path} is missing but the pool has memories; restore it from a backup")
            meta = self._new_meta()
            self._write_meta(meta)
            return meta
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise PoolCorrupt(f"{path} is not a valid pool description ({error})") from error
        return self._parse_meta(raw, str(path))

    def _new_meta(self) -> PoolMeta:
        return PoolMeta(
            schema_version=SCHEMA_VERSION,
            embedder=self.embedder.name,
            dimension=self.embedder.dimension,
            created_at=utcnow().isoformat(timespec="seconds"),
            embed_key=self.config.embed_key,
        )

    def _parse_meta(self, raw: Any, where: str) -> PoolMeta:
        try:
            meta = PoolMeta(
                schema_version=int(raw["schema_version"]),
                embedder=str(raw["embedder"]),
                dimension=int(raw["dimension"]),
                created_at=str(raw.get("created_at", "")),
                embed_key=str(raw.get("embed_key") or LEGACY_EMBED_KEY),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise PoolCorrupt(f"{where} is not a valid pool description ({error})") from error
        if meta.embed_key not in EMBED_KEYS:
            raise PoolCorrupt(f"{where} names an unknown embedding key {meta.embed_key!r}")
        if meta.schema_version > SCHEMA_VERSION:
            raise PoolVersionError(
                f"the pool at {self.location} was written by a newer Carryover (schema version "
                f"{meta.schema_version}; this one understands up to {SCHEMA_VERSION}). Upgrade Carryover."
            )
        return meta

    def _load_or_create_remote_meta(self) -> PoolMeta:
        """On object storage the pool description is a one-row table beside the memories (the same
        credentials and commit protocol as the rest of the pool; no second client)."""
        where = f"{self.location}/{META_TABLE}"
        try:
            try:
                table = self._db.open_table(META_TABLE)
            except ValueError:  # LanceDB's "table not found"
                try:
                    self._db.open_table(MEMORIES_TABLE)
                except ValueError:
                    meta = self._new_meta()
                    self._write_meta(meta)
                    return meta
                raise PoolCorrupt(f"{where} is missing but the pool has memories") from None
            rows = table.to_arrow().to_pylist()
        except (OSError, RuntimeError) as error:
            raise PoolReadError(f"the pool at {self.location} cannot be reached: {error}") from error
        if len(rows) != 1:
            raise PoolCorrupt(f"{where} holds {len(rows)} rows instead of one")
        return self._parse_meta(rows[0], where)

    def _write_meta(self, meta: PoolMeta) -> None:
        if self.remote:
            import pyarrow as pa

            data = pa.Table.from_pylist([attrs.asdict(meta)])
            try:
                self._db.create_table(META_TABLE, data=data, mode="overwrite")
            except (OSError, ValueError, RuntimeError) as error:
                raise PoolReadError(f"the pool at {self.location} cannot be written: {error}") from error
            return
        path = self._dir / META_FILE
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(attrs.asdict(meta), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)

    def _migrate(self) -> None:
        """Bring a pool of an older schema version to this one: the columns each version added
        (:data:`MIGRATIONS`) are added empty, and the pool description says the new version."""
        if self.meta.schema_version >= SCHEMA_VERSION:
            return
        import pyarrow as pa

        present = set(self._memories.schema.names)
        added: list[str] = []
        for version in range(self.meta.schema_version + 1, SCHEMA_VERSION + 1):
            missing = [name for name in MIGRATIONS.get(version, ()) if name not in present]
            if missing:
                self._memories.add_columns(pa.schema([pa.field(name, pa.string()) for name in missing]))
                added.extend(missing)
        logger.info(
            "%s: schema version %d -> %d (added %s)",
            self.location,
            self.meta.schema_version,
            SCHEMA_VERSION,
            ", ".join(added) or "no columns",
        )
        self.meta = attrs.evolve(self.meta, schema_version=SCHEMA_VERSION)
        self._write_meta(self.meta)

    def _check_schema(self) -> None:
        expected = set(memory_row_model(self.meta.dimension).to_arrow_schema().names)
        actual = set(self._memories.schema.names)
        if expected != actual:
            raise PoolCorrupt(
                f"the memories table at {self.location} has columns {sorted(actual ^ expected)} that "
                f"this Carryover does not expect"
            )

    def _require_matching_embedder(self) -> None:
        if self.meta.embedder != self.embedder.name or self.meta.dimension != self.embedder.dimension:
            raise embedder_mismatch(
                self.meta.embedder, self.meta.dimension, self.embedder.name, self.embedder.dimension
            )

    @storage_errors
    def refresh(self) -> None:
        """See every write made so far, also by other processes (a freshly opened store's view)."""
        self._refresh(force=True)

    def _refresh(self, force: bool = False) -> None:
        """See writes made by other processes (at most every ``refresh_interval_s`` unless forced)."""
        now = time.monotonic()
        if force or now - self._last_refresh >= self._refresh_interval_s:
            self._memories.checkout_latest()
            self._last_refresh = now

    # ----- writing -------------------------------------------------------------------------------

    def add(self, draft: MemoryDraft) -> WriteResult:
        return self.add_many([draft])[0]

    @storage_errors
    def add_many(self, drafts: Sequence[MemoryDraft]) -> list[WriteResult]:
        """Write memories, merging each into an existing one of the same kind and outcome when they
        are near-identical (cosine ≥ ``dedup_threshold``) or have the same id."""
        if not drafts:
            return []
        self._require_matching_embedder()
        clean = [redact_draft(draft) for draft in drafts]
        keys = [embedding_key(draft, self.meta.embed_key) for draft in clean]
        vectors = np.ascontiguousarray(self._raw_embedder.embed(keys), dtype=np.float32)
        with self._lock.hold():
            self._refresh(force=True)
            return self._write_locked(clean, keys, vectors)

    def _write_locked(
        self, drafts: Sequence[MemoryDraft], keys: Sequence[str], vectors: np.ndarray
    ) -> list[WriteResult]:
        """Dedup against the vector mirror (one matrix product per kind and outcome), then one
        ``merge_insert`` for the whole batch; the mirror takes the written rows without a re-read."""
        now = utcnow()
        mirror = self._synced_mirror()
        before = mirror.version
        ids = [draft.id or draft.content_id() for draft in drafts]
        targets = self._merge_targets(mirror, drafts, ids, vectors)
        stored = self._stored_rows(
            {target for target, memory_id in zip(targets, ids, strict=True) if target is not None}
            - {memory_id for target, memory_id in zip(targets, ids, strict=True) if target is None}
        )
        rows: dict[str, dict[str, Any]] = {}
        results: list[WriteResult] = []
        for draft, key, vector, memory_id, target in zip(drafts, keys, vectors, ids, targets, strict=True):
            if target is None:
                row = new_row(draft, memory_id, key, vector, now=now, embedder=self.embedder.name)
                row["vector"] = vector
                rows[memory_id] = row
                results.append(WriteResult(id=memory_id, action="added"))
                continue
            base = rows.get(target) or stored.get(target)
            if base is None:
                raise MemoryNotFound(target)
            rows[target] = self._merged_row(base, draft, now)
            results.append(WriteResult(id=target, action="merged", merged_into=target))
        self._upsert(list(rows.values()))
        added = [
            NewRow(
                id=memory_id,
                vector=np.asarray(row["vector"], dtype=np.float32),
                kind=str(row["kind"]),
                outcome=str(row["outcome"]),
                status=str(row["status"]),
                scope=str(row["scope"]),
                workspace=str(row["workspace"]),
                created_us=microseconds(row["created_at"]),
                updated_us=microseconds(row["updated_at"]),
            )
            for memory_id, row in rows.items()
            if memory_id not in stored
        ]
        merged = {memory_id: microseconds(now) for memory_id in rows if memory_id in stored}
        if before is not None:
            mirror.apply_write(before, int(self._memories.version), added, merged)
        mirror.persist()
        return results

    def _merge_targets(
        self, mirror: VectorMirror, drafts: Sequence[MemoryDraft], ids: Sequence[str], vectors: np.ndarray
    ) -> list[str | None]:
        """For each draft, the id it merges into (None: it is added): its own id when that is
        stored or written earlier in the batch, else the nearest stored memory of its kind and
        outcome if similar enough, else the nearest memory added earlier in the batch."""
        pool_rows, pool_similarities = self._vectors_for_dedup(mirror, drafts, vectors)
        batch_similarities = vectors @ vectors.T
        groups = np.array([_group_label(draft.kind, draft.outcome) for draft in drafts])
        written: set[str] = set()
        added: list[int] = []
        targets: list[str | None] = []
        for index, memory_id in enumerate(ids):
            target: str | None = None
            if memory_id in written or mirror.row_of(memory_id) is not None:
                target = memory_id
            elif pool_similarities[index] >= self.config.dedup_threshold:
                target = mirror.ids_of(pool_rows[index : index + 1])[0]
            elif added:
                earlier = np.asarray(added)
                target = self._nearest_duplicate(
                    batch_similarities[index, earlier],
                    groups[earlier] == groups[index],
                    [ids[position] for position in added],
                )
            if target is None:
                added.append(index)
                target_id = memory_id
            else:
                target_id = target
            written.add(target_id)
            targets.append(target)
        return targets

    def _stored_rows(self, ids: set[str]) -> dict[str, dict[str, Any]]:
        """Whole stored rows (vector included) of ``ids``, by id: the bases of merges."""
        return {row["id"]: row for row in rows_by_id(self._memories, sorted(ids))}

    def _nearest_duplicate(
        self, similarities: np.ndarray, same_group: np.ndarray, ids: Sequence[str]
    ) -> str | None:
        """The id of the most similar memory in the same group, if it is similar enough to merge."""
        if len(ids) == 0 or not same_group.any():
            return None
        masked = np.where(same_group, similarities, -np.inf)
        best = int(np.argmax(masked))
        if masked[best] >= self.config.dedup_threshold:
            return ids[best]
        return None

    def _vectors_for_dedup(
        self, mirror: VectorMirror, drafts: Sequence[MemoryDraft], vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each draft, the mirror row of the most similar stored memory of its kind and outcome
        and that similarity (-1 and -inf when there is none)."""
        return mirror.nearest(
            vectors, [draft.kind.value for draft in drafts], [draft.outcome.value for draft in drafts]
        )

    @staticmethod
    def _merged_row(base: dict[str, Any], draft: MemoryDraft, now: datetime) -> dict[str, Any]:
        merged = dict(base)
        merged["languages"] = _union(base["languages"], draft.languages)
        merged["tools"] = _union(base["tools"], draft.tools)
        merged["episode_ids"] = _union(base["episode_ids"], draft.provenance.episode_ids)
        merged["merged_count"] = int(base["merged_count"]) + 1
        merged["updated_at"] = now
        if isinstance(merged["vector"], np.ndarray):
            merged["vector"] = merged["vector"].tolist()
        return merged

    def _upsert(self, rows: list[dict[str, Any]]) -> None:
        """One ``merge_insert`` by id for all ``rows``; the vectors go in as one float32 column."""
        if not rows:
            return
        import pyarrow as pa

        schema = self._memories.schema
        field = schema.field("vector")
        vectors = np.asarray([np.asarray(row["vector"], dtype=np.float32) for row in rows])
        others = pa.schema([item for item in schema if item.name != "vector"])
        plain = [{name: value for name, value in row.items() if name != "vector"} for row in rows]
        table = pa.Table.from_pylist(plain, schema=others)
        values = pa.array(vectors.ravel(), type=pa.float32())
        column = pa.FixedSizeListArray.from_arrays(values, type=field.type)
        data = table.append_column(field, column).select(schema.names)
        (
            self._memories.merge_insert("id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(data)
        )

    # ----- feedback ------------------------------------------------------------------------------

    @storage_errors
    def pin(self, memory_id: str) -> Memory:
        return self._set(memory_id, {"status": Status.PINNED.value, "reject_reason": ""})

    @storage_errors
    def reject(self, memory_id: str, reason: str = "") -> Memory:
        return self._set(memory_id, {"status": Status.REJECTED.value, "reject_reason": redact_text(reason)})

    @storage_errors
    def restore(self, memory_id: str) -> Memory:
        """Back to active: undoes a pin or a rejection."""
        return self._set(memory_id, {"status": Status.ACTIVE.value, "reject_reason": ""})

    @storage_errors
    def record_feedback(self, memory_id: str, helpful: bool) -> Memory:
        column = "helpful" if helpful else "unhelpful"
        with self._lock.hold():
            self._refresh(force=True)
            result = self._memories.update(where=_id_is(memory_id), values_sql={column: f"{column} + 1"})
            if result.rows_updated == 0:
                raise MemoryNotFound(memory_id)
        return self.get_required(memory_id)

    def _set(self, memory_id: str, values: dict[str, Any]) -> Memory:
        with self._lock.hold():
            self._refresh(force=True)
            result = self._memories.update(where=_id_is(memory_id), values={**values, "updated_at": utcnow()})
            if result.rows_updated == 0:
                raise MemoryNotFound(memory_id)
        return self.get_required(memory_id)

    @storage_errors
    def forget(self, memory_id: str) -> bool:
        """Delete a memory for good. Returns False when there was none with that id."""
        with self._lock.hold():
            self._refresh(force=True)
            if self.get(memory_id) is None:
                return False
            self._memories.delete(_id_is(memory_id))
        return True

    # ----- reading -------------------------------------------------------------------------------

    def get(self, memory_id: str) -> Memory | None:
        found = self._get_many([memory_id])
        return found[0] if found else None

    def get_required(self, memory_id: str) -> Memory:
        memory = self.get(memory_id)
        if memory is None:
            raise MemoryNotFound(memory_id)
        return memory

    @storage_errors
    def _get_many(self, ids: Sequence[str]) -> list[Memory]:
        if not ids:
            return []
        self._refresh()
        return [row_to_memory(row) for row in rows_by_id(self._memories, sorted(set(ids)), _READ_COLUMNS)]

    @storage_errors
    def resolve_id(self, prefix: str) -> str:
        """The full id of the one memory whose id starts with ``prefix`` (ids are long to type)."""
        if self.get(prefix) is not None:
            return prefix
        table = self._memories.search().select(["id"]).limit(None).to_arrow()
        matches = [memory_id for memory_id in table.column("id").to_pylist() if memory_id.startswith(prefix)]
        if len(matches) == 1:
            return str(matches[0])
        if not matches:
            raise MemoryNotFound(prefix)
        raise MemoryNotFound(f"{prefix} is ambiguous: {len(matches)} memories start with it")

    @storage_errors
    def list_memories(
        self, kind: Kind | None = None, status: Status | None = None, limit: int | None = None
    ) -> list[Memory]:
        from lancedb.expr import col, lit

        self._refresh()
        condition = None
        if kind is not None:
            condition = col("kind") == lit(kind.value)
        # No status named: every memory but the proposals, which wait for the person's acceptance.
        status_condition = (
            col("status") == lit(status.value) if status is not None else col("status") != lit("proposed")
        )
        condition = status_condition if condition is None else condition & status_condition
        if limit is not None:
            # Only the sort keys of every row, then the newest ``limit`` rows whole.
            keys = self._memories.search().select(["id", "updated_at"]).where(condition).limit(None)
            ordered = sorted(
                keys.to_arrow().to_pylist(), key=lambda row: (row["updated_at"], row["id"]), reverse=True
            )
            wanted = [str(row["id"]) for row in ordered[: max(0, limit)]]
            found = {memory.id: memory for memory in self._get_many(wanted)}
            return [found[memory_id] for memory_id in wanted if memory_id in found]
        query = self._memories.search().select(_READ_COLUMNS).where(condition).limit(None)
        memories = [row_to_memory(row) for row in query.to_arrow().to_pylist()]
        memories.sort(key=lambda memory: (memory.updated_at, memory.id), reverse=True)
        return memories

    @storage_errors
    def count(self) -> int:
        self._refresh()
        return int(self._memories.count_rows())

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` from the pool's embedder, through its query cache (shape (n, d))."""
        self._require_matching_embedder()
        return np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)

    @storage_errors
    def candidates(
        self,
        vectors: np.ndarray,
        *,
        kinds: Sequence[Kind | str] = (),
        workspace: str | None = None,
        limit: int,
    ) -> list[tuple[Memory, np.ndarray]]:
        """The ``limit`` retrievable memories most similar to any of the query ``vectors``, best
        first by their highest similarity, each once with its cosine similarity to every query
        vector (shape ``(len(vectors),)``). Only retrievable statuses (never rejected or proposed),
        only ``kinds`` when given, and with a ``workspace`` no project-scoped memory of another one.
        Scores come from the vector mirror: exact below its size limit, ANN candidates rescored
        exactly above it. Ranking is the caller's."""
        self._require_matching_embedder()
        queries = np.ascontiguousarray(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))
        if queries.shape[1] != self.meta.dimension:
            raise ValueError(
                f"query vectors have {queries.shape[1]} dimensions, the pool {self.meta.dimension}"
            )
        self._refresh()
        mirror = self._synced_mirror()
        with mirror.lock:
            passing = mirror.mask(
                statuses=[status.value for status in RETRIEVABLE_STATUSES],
                kinds=[Kind(kind).value for kind in kinds],
                workspace=workspace,
            )
            rows, similarities = mirror.search(self._memories, queries, passing, limit)
            memories = self._memories_for(mirror, rows)
        return [(memory, similarities[index]) for index, memory in enumerate(memories) if memory is not None]

    def _memories_for(self, mirror: VectorMirror, rows: np.ndarray) -> list[Memory | None]:
        """Typed memories of mirror ``rows``: from the mirror's cache while their row is unchanged,
        else read by row id in one call (by id when the row id is not known)."""
        from lancedb.expr import col, lit

        ids = mirror.ids_of(rows)
        stamps = [mirror.stamp(int(row)) for row in rows]
        found: dict[str, Memory] = {}
        wanted: dict[str, int] = {}
        for memory_id, stamp, row in zip(ids, stamps, rows, strict=True):
            cached = mirror.memories.get(memory_id, stamp)
            if cached is not None:
                found[memory_id] = cached
            else:
                wanted[memory_id] = mirror.rowid(int(row))
        if wanted:
            known = [rowid for rowid in wanted.values() if rowid >= 0]
            tables = [self._memories.take_row_ids(known).select(_READ_COLUMNS).to_arrow()] if known else []
            fetched = {row["id"]: row for table in tables for row in table.to_pylist() if row["id"] in wanted}
            rest = [memory_id for memory_id in wanted if memory_id not in fetched]
            if rest:
                table = (
                    self._memories.search()
                    .where(col("id").isin([lit(memory_id) for memory_id in rest]))
                    .select(_READ_COLUMNS)
                    .limit(None)
                    .to_arrow()
                )
                fetched.update((row["id"], row) for row in table.to_pylist())
            for memory_id, stamp in zip(ids, stamps, strict=True):
                row_dict = fetched.get(memory_id)
                if row_dict is not None and memory_id not in found:
                    memory = row_to_memory(row_dict)
                    mirror.memories.put(memory_id, stamp, memory)
                    found[memory_id] = memory
        return [found.get(memory_id) for memory_id in ids]

    def _synced_mirror(self) -> VectorMirror:
        """The vector mirror of this pool at the table's checked-out version (made on first use,
        made again when the pool's embedder changed)."""
        with _MIRROR_CREATION:
            mirror = self._mirror
            wanted = (self.meta.embedder, self.meta.dimension)
            if mirror is None or (mirror.embedder, mirror.dimension) != wanted:
                directory = None if self.remote else self._dir / MIRROR_DIR
                mirror = VectorMirror(directory, self.meta.embedder, self.meta.dimension)
                self._mirror = mirror
        if mirror.sync(self._memories):
            mirror.persist()
        return mirror

    @storage_errors
    def search(self, query: SearchQuery) -> list[SearchHit]:
        """The memories that apply to ``query``, best first (see ``ranking.search_pool``)."""
        return search_pool(self, query, self.config.ranking)

    # ----- the read replica ------------------------------------------------------------------------

    @storage_errors
    def sync_replica(self) -> bool:
        """Bring the pool's read replica (carryover/pool/replica.py) and the persisted vector mirror
        to the table's newest version, so that the next read command answers without LanceDB.
        Returns False when there was nothing to do (or the pool is on object storage)."""
        if self.remote:
            return False
        from carryover.pool.replica import Replica

        self._refresh(force=True)
        self._synced_mirror().persist(wait=True)
        return Replica(self._dir).sync(
            _ReplicaSource(self._memories), embedder=self.meta.embedder, dimension=self.meta.dimension
        )

    # ----- maintenance ---------------------------------------------------------------------------

    def vector_index(self) -> Any | None:
        """The ANN index on the vector column, if the pool has one."""
        for index in self._memories.list_indices():
            if "vector" in index.columns:
                return index
        return None

    @storage_errors
    def maintain(self, force: bool = False) -> str:
        """Keep search fast as the pool grows: build an ANN index once the pool is large enough
        (``index_min_rows``), and fold new rows into it (with compaction) when many are unindexed;
        then bring the vector mirror up to date and compact its files into one.
        Old versions are kept for an hour, so readers in other processes never lose their files.
        Returns what was done."""
        with self._lock.hold():
            self._refresh(force=True)
            said = self._maintain_table(force)
            mirror = self._synced_mirror()
            mirror.persist(wait=True, compact=True)
            return said

    def _maintain_table(self, force: bool) -> str:
        from lancedb.index import HnswSq

        rows = int(self._memories.count_rows())
        index = self.vector_index()
        if index is None:
            if rows < self.config.index_min_rows and not force:
                return f"no index needed ({rows} memories; exact search up to {self.config.index_min_rows})"
            partitions = max(1, rows // 4096)
            # Compact first: at 100k rows, 100 fragments made an indexed search 2-3x slower.
            self._memories.optimize(cleanup_older_than=timedelta(hours=1))
            self._memories.create_index(
                "vector", config=HnswSq(distance_type="cosine", num_partitions=partitions)
            )
            return f"built an IVF-HNSW-SQ index over {rows} memories ({partitions} partitions)"
        stats = self._memories.index_stats(index.name)
        unindexed = int(stats.num_unindexed_rows) if stats is not None else 0
        if unindexed <= max(1000, rows // 10) and not force:
            return f"index up to date enough ({unindexed} of {rows} memories not yet indexed)"
        self._memories.optimize(cleanup_older_than=timedelta(hours=1))
        return f"compacted and indexed {unindexed} new memories"

    @storage_errors
    def reembed(self, embedder: Embedder, key: str | None = None, batch_size: int = 256) -> int:
        """Re-embed every memory with ``embedder`` (and, given ``key``, a new embedding key) and make
        them the pool's. Returns the count."""
        import pyarrow as pa

        key = key or self.meta.embed_key
        if key not in EMBED_KEYS:
            raise ValueError(f"unknown embedding key {key!r} (one of {', '.join(EMBED_KEYS)})")
        with self._lock.hold():
            self._refresh(force=True)
            rows = self._memories.search().limit(None).to_arrow().to_pylist()
            new_model = memory_row_model(embedder.dimension)
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                for row in chunk:
                    row["embedding_key"] = embedding_key(row_to_memory(row), key)
                vectors = embedder.embed([row["embedding_key"] for row in chunk])
                for row, vector in zip(chunk, vectors, strict=True):
                    row["vector"] = np.asarray(vector, dtype=np.float32).tolist()
                    row["embedder"] = embedder.name
            data = pa.Table.from_pylist(rows, schema=new_model.to_arrow_schema())
            self._memories = self._db.create_table(MEMORIES_TABLE, data=data, mode="overwrite")
            self.meta = attrs.evolve(
                self.meta, embedder=embedder.name, dimension=embedder.dimension, embed_key=key
            )
            self._write_meta(self.meta)
            self._raw_embedder = embedder
            self.embedder = CachedEmbedder(embedder)
            self._forget_mirror()
        return len(rows)

    def _forget_mirror(self) -> None:
        """Every vector changed under unchanged row stamps: the mirror (in memory and on disk) starts
        again from the table."""
        with _MIRROR_CREATION:
            self._mirror = None
            if not self.remote:
                shutil.rmtree(self._dir / MIRROR_DIR, ignore_errors=True)

    def counts(self) -> PoolCounts:
        memories = self.list_memories()
        by_kind: dict[str, int] = {}
        by_outcome: dict[str, int] = {}
        by_language: dict[str, int] = {}
        by_status: dict[str, int] = {}
        for memory in memories:
            by_kind[memory.kind.value] = by_kind.get(memory.kind.value, 0) + 1
            by_outcome[memory.outcome.value] = by_outcome.get(memory.outcome.value, 0) + 1
            by_status[memory.status.value] = by_status.get(memory.status.value, 0) + 1
            for language in memory.languages or ("(none)",):
                by_language[language] = by_language.get(language, 0) + 1
        return PoolCounts(
            total=len(memories),
            by_kind=dict(sorted(by_kind.items())),
            by_outcome=dict(sorted(by_outcome.items())),
            by_language=dict(sorted(by_language.items(), key=lambda item: (-item[1], item[0]))),
            by_status=dict(sorted(by_status.items())),
            helpful=sum(memory.helpful for memory in memories),
            unhelpful=sum(memory.unhelpful for memory in memories),
            merged=sum(memory.merged_count for memory in memories),
        )

    @storage_errors
    def vectors_by_kind(self) -> dict[Kind, tuple[np.ndarray, list[str]]]:
        """Each kind's vectors with one language label per vector (its first language), for the pool
        statistics. Memories with no language are left out. The vectors come from the mirror."""
        self._refresh()
        mirror = self._synced_mirror()
        table = self._memories.search().select(["id", "kind", "languages"]).limit(None).to_arrow()
        grouped: dict[Kind, tuple[list[int], list[str]]] = {}
        with mirror.lock:
            for memory_id, kind, languages in zip(
                table.column("id").to_pylist(),
                table.column("kind").to_pylist(),
                table.column("languages").to_pylist(),
                strict=True,
            ):
                row = mirror.row_of(memory_id)
                if not languages or row is None:
                    continue
                rows, labels = grouped.setdefault(Kind(kind), ([], []))
                rows.append(row)
                labels.append(languages[0])
            return {
                kind: (mirror.matrix_rows(np.asarray(rows, dtype=np.int64)), labels)
                for kind, (rows, labels) in grouped.items()
            }

    # ----- events and episodes -------------------------------------------------------------------
    # Capture appends events and segmentation groups them into episodes; distillation reads finished
    # episodes. Rows are the schema's EventRow/EpisodeRow; payloads arrive already redacted.

    def _refresh_capture_tables(self) -> None:
        self._events.checkout_latest()
        self._episodes.checkout_latest()

    def append_events(self, rows: Sequence[EventRow], *, new_ids: bool = False) -> int:
        """Insert events whose id is not stored yet (re-sending a batch is harmless). Returns how
        many were new. ``new_ids``: the caller made every id just now, so none can be stored: they
        are appended without the id match (which reads every stored id)."""
        if not rows:
            return 0
        import pyarrow as pa

        unique = {row.id: row for row in rows}
        data = pa.Table.from_pylist(
            [row.model_dump() for row in unique.values()], schema=EventRow.to_arrow_schema()
        )
        with self._lock.hold():
            if new_ids:
                self._events.add(data)
                return int(data.num_rows)
            self._events.checkout_latest()
            before = int(self._events.count_rows())
            self._events.merge_insert("id").when_not_matched_insert_all().execute(data)
            return int(self._events.count_rows()) - before

    def read_events(
        self,
        *,
        ids: Sequence[str] | None = None,
        episode_ids: Sequence[str] | None = None,
        workspace: str | None = None,
        since: datetime | None = None,
        pace: Pace = no_pace,
    ) -> list[EventRow]:
        """Events matching every given filter, oldest first (ties broken by id); ``pace`` is called
        between slices of rows turned into records."""
        from lancedb.expr import col, lit

        self._events.checkout_latest()
        condition: Any = None

        def both(first: Any, second: Any) -> Any:
            return second if first is None else first & second

        if ids is not None:
            if not ids:
                return []
            condition = both(condition, col("id").isin([lit(value) for value in set(ids)]))
        if episode_ids is not None:
            if not episode_ids:
                return []
            condition = both(condition, col("episode_id").isin([lit(value) for value in set(episode_ids)]))
        if workspace is not None:
            condition = both(condition, col("workspace") == lit(workspace))
        if since is not None:
            condition = both(condition, col("time") >= lit(since))
        query = self._events.search()
        if condition is not None:
            query = query.where(condition)
        table = query.limit(None).to_arrow()
        rows: list[EventRow] = []
        for start in range(0, table.num_rows, READ_SLICE_ROWS):
            pace()
            # the table's own schema typed these columns: constructing skips validating them again
            rows.extend(
                EventRow.model_construct(**row) for row in table.slice(start, READ_SLICE_ROWS).to_pylist()
            )
        rows.sort(key=lambda row: (row.time, row.id))
        return rows

    def assign_events(self, assignment: dict[str, str]) -> None:
        """Set ``episode_id`` of each event id in ``assignment`` (one update per episode id)."""
        if not assignment:
            return
        from lancedb.expr import col, lit

        by_episode: dict[str, list[str]] = {}
        for event_id, episode_id in assignment.items():
            by_episode.setdefault(episode_id, []).append(event_id)
        with self._lock.hold():
            self._events.checkout_latest()
            for episode_id, event_ids in by_episode.items():
                for start in range(0, len(event_ids), 500):
                    chunk = event_ids[start : start + 500]
                    self._events.update(
                        where=col("id").isin([lit(value) for value in chunk]),
                        values={"episode_id": episode_id},
                    )

    def upsert_episodes(self, rows: Sequence[EpisodeRow]) -> None:
        """Insert or replace episodes by id."""
        if not rows:
            return
        import pyarrow as pa

        unique = {row.id: row for row in rows}
        data = pa.Table.from_pylist(
            [row.model_dump() for row in unique.values()], schema=EpisodeRow.to_arrow_schema()
        )
        with self._lock.hold():
            self._episodes.checkout_latest()
            self._episodes.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(
                data
            )

    def list_episodes(
        self,
        status: str | Sequence[str] | None = None,
        workspace: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[EpisodeRow]:
        """Episodes with the given status(es), workspace and ids, oldest first."""
        from lancedb.expr import col, lit

        self._episodes.checkout_latest()
        condition: Any = None
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            condition = col("status").isin([lit(value) for value in statuses])
        if workspace is not None:
            clause = col("workspace") == lit(workspace)
            condition = clause if condition is None else condition & clause
        if ids is not None:
            if not ids:
                return []
            clause = col("id").isin([lit(value) for value in set(ids)])
            condition = clause if condition is None else condition & clause
        query = self._episodes.search()
        if condition is not None:
            query = query.where(condition)
        rows = [EpisodeRow(**row) for row in query.limit(None).to_arrow().to_pylist()]
        rows.sort(key=lambda row: (row.started_at, row.id))
        return rows

    def set_episode_status(
        self, episode_ids: Sequence[str], status: str, when: datetime | None = None
    ) -> int:
        """Move episodes to ``status`` ("distilled" also stamps ``distilled_at``). Returns the count."""
        if not episode_ids:
            return 0
        from lancedb.expr import col, lit

        values: dict[str, Any] = {"status": status}
        if status == "distilled":
            values["distilled_at"] = when or utcnow()
        with self._lock.hold():
            self._episodes.checkout_latest()
            result = self._episodes.update(
                where=col("id").isin([lit(value) for value in set(episode_ids)]), values=values
            )
            return int(result.rows_updated)

    def count_events(self) -> int:
        self._events.checkout_latest()
        return int(self._events.count_rows())


class _ReplicaSource:
    """The memories table as the replica reads it."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def version(self) -> int:
        return int(self._table.version)

    def stamps(self) -> list[dict[str, Any]]:
        from carryover.pool.replica import STAMP_COLUMNS

        rows: list[dict[str, Any]] = (
            self._table.search().select(list(STAMP_COLUMNS)).limit(None).to_arrow().to_pylist()
        )
        return rows

    def rows(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        if len(ids) > self._table.count_rows() // 2:
            everything: list[dict[str, Any]] = (
                self._table.search().select(_READ_COLUMNS).limit(None).to_arrow().to_pylist()
            )
            wanted = set(ids)
            return [row for row in everything if row["id"] in wanted]
        return rows_by_id(self._table, ids, _READ_COLUMNS)


def rows_by_id(table: Any, ids: Sequence[str], columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The rows of ``ids`` in the memories ``table`` (``columns`` only, when given), read by id in
    chunks of :data:`ID_CHUNK`."""
    from lancedb.expr import col, lit

    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), ID_CHUNK):
        query = table.search().where(
            col("id").isin([lit(memory_id) for memory_id in ids[start : start + ID_CHUNK]])
        )
        if columns is not None:
            query = query.select(list(columns))
        found.extend(query.limit(None).to_arrow().to_pylist())
    return found


def _id_is(memory_id: str) -> Any:
    from lancedb.expr import col, lit

    return col("id") == lit(memory_id)


def open_store(config: StoreConfig, embedder: Embedder | None = None) -> MemoryStore:
    """Open (or create) the pool named by ``config`` with the configured embedder."""
    from carryover.pool.embedding.factory import make_embedder

    return MemoryStore(config, embedder or make_embedder(config.embedder))


__all__ = [
    "EmbedderMismatch",
    "MemoryNotFound",
    "MemoryStore",
    "PoolCorrupt",
    "PoolCounts",
    "PoolError",
    "PoolMeta",
    "PoolReadError",
    "PoolVersionError",
    "embedding_key",
    "open_store",
    "redact_draft",
    "row_to_memory",
    "storage_errors",
    "utcnow",
]

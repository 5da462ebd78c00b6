"""The team pool: the memories people chose to share, in a LanceDB pool on object storage (``s3://``,
``gs://``, ``az://``) or in a shared directory, beside each person's own local pool.

- Sharing is explicit: :meth:`TeamPool.share` copies one local memory, refused while any secret
  pattern remains in it, and records who shared it (``[team] user`` or $USER) and from which workspace
  (the folder's name, never its full path).
- Several machines write at once without a file lock: each share is one LanceDB commit, which the
  object store accepts only if no other writer made that table version first (a conditional put);
  a conflicting commit is retried by LanceDB, and the ``id`` primary key makes two writers of the same
  new memory leave it once.
- The local pool keeps working when the team pool is unreachable: a share is queued in
  ``<home>/team-queue.jsonl`` (mode 0600) and retried; reads skip the team pool for
  ``[team] retry_after_s`` after a failure; :meth:`TeamPool.status` says what is going on (for the
  status bar).
- :class:`PooledSearch` searches the local pool and the team pool with the same query and the same
  ranking, and merges them best first; it is a ``Searcher`` for ``carryover.recall.suggest``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from carryover.pool.config import StoreConfig, object_store_uri
from carryover.pool.embedding import Embedder
from carryover.pool.errors import MemoryNotFound, PoolError
from carryover.pool.locking import PoolLock
from carryover.pool.records import (
    Kind,
    Memory,
    MemoryDraft,
    Provenance,
    Scope,
    SearchHit,
    SearchQuery,
    Status,
)
from carryover.pool.redaction import find_secrets, redact_draft
from carryover.pool.schema import MEMORY_COLUMNS
from carryover.pool.store import MemoryStore, embedding_key, new_row, utcnow

logger = logging.getLogger(__name__)

QUEUE_FILE = "team-queue.jsonl"
QUEUE_LOCK = "team-queue.lock"
SHARE_SOURCE = "team-share"


class ShareRefused(ValueError):
    """This memory may not be shared (a secret pattern remains in it, or it is not an accepted memory);
    the message says why and what to do."""


class TeamUnavailable(PoolError):
    """The team pool is not configured, or cannot be reached right now."""


@attrs.frozen
class ShareResult:
    id: str
    outcome: str
    """"shared" (written to the team pool), "merged" (the team pool had it or a near-identical memory:
    that one was updated) or "queued" (the team pool is unreachable; retried later)."""
    team_id: str | None = None
    detail: str = ""


@attrs.frozen
class TeamStatus:
    """What the status bar says about the team pool."""

    configured: bool
    location: str
    reachable: bool | None
    """None until the team pool was first used."""
    queued: int
    last_error: str = ""
    last_success: datetime | None = None

    def summary(self) -> str:
        if not self.configured:
            return "no team pool"
        if self.reachable is False:
            waiting = f", {self.queued} share(s) queued" if self.queued else ""
            return f"team pool unreachable{waiting}"
        if self.queued:
            return f"team pool: {self.queued} share(s) queued"
        return "team pool connected" if self.reachable else "team pool configured"


@attrs.frozen
class QueuedShare:
    memory_id: str
    shared_by: str
    workspace: str
    queued_at: str


class ShareQueue:
    """Shares waiting for the team pool: one JSON line each, in a file only its owner can read
    (mode 0600); several processes may use it at once (a file lock beside it)."""

    def __init__(self, home: Path) -> None:
        self.path = home / QUEUE_FILE
        self._lock = PoolLock(home / QUEUE_LOCK, timeout_s=10.0)

    def add(self, share: QueuedShare) -> None:
        with self._lock.hold():
            shares = [queued for queued in self._read() if queued.memory_id != share.memory_id]
            self._write([*shares, share])

    def pending(self) -> list[QueuedShare]:
        with self._lock.hold():
            return self._read()

    def __len__(self) -> int:
        if not self.path.exists():
            return 0
        return len(self.pending())

    @contextlib.contextmanager
    def draining(self) -> Iterator[tuple[list[QueuedShare], Callable[[QueuedShare], None]]]:
        """The queued shares and a function that marks one done; on leaving, the rest stay queued."""
        with self._lock.hold():
            shares = self._read()
            done: set[str] = set()
            try:
                yield shares, lambda share: done.add(share.memory_id)
            finally:
                self._write([share for share in shares if share.memory_id not in done])

    def _read(self) -> list[QueuedShare]:
        if not self.path.exists():
            return []
        shares: list[QueuedShare] = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                shares.append(
                    QueuedShare(
                        memory_id=str(raw["memory_id"]),
                        shared_by=str(raw["shared_by"]),
                        workspace=str(raw.get("workspace", "")),
                        queued_at=str(raw.get("queued_at", "")),
                    )
                )
            except (ValueError, KeyError, TypeError) as error:
                logger.warning("%s line %d is not a queued share (%s); dropped", self.path, number, error)
        return shares

    def _write(self, shares: Sequence[QueuedShare]) -> None:
        if not shares:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            for share in shares:
                handle.write(json.dumps(attrs.asdict(share), ensure_ascii=False) + "\n")
        os.replace(temporary, self.path)


def secrets_in(memory: Memory) -> list[str]:
    """``field: kind`` for every secret pattern still found in what would be shared."""
    fields = {
        "title": memory.title,
        "description": memory.description,
        "content": memory.content,
        "when_not": memory.when_not,
        "check_command": memory.check_command,
        "languages": " ".join(memory.languages),
        "tools": " ".join(memory.tools),
    }
    return [
        f"{name}: {finding.kind}" for name, text in fields.items() if text for finding in find_secrets(text)
    ]


def workspace_name(workspace: str) -> str:
    """What a team sees of a workspace: its folder's name, not the path on someone's machine."""
    return Path(workspace.rstrip("/\\")).name if workspace else ""


def team_draft(memory: Memory, shared_by: str, workspace: str) -> MemoryDraft:
    """The team pool's copy of a local memory: same id and text, team scope, who shared it and from
    which workspace; the local episode ids stay local."""
    return MemoryDraft(
        kind=memory.kind,
        title=memory.title,
        description=memory.description,
        content=memory.content,
        outcome=memory.outcome,
        languages=memory.languages,
        tools=memory.tools,
        scope=Scope.TEAM,
        when_not=memory.when_not,
        check_command=memory.check_command,
        provenance=Provenance(
            workspace=workspace_name(workspace),
            source=SHARE_SOURCE,
            distilled_by=memory.provenance.distilled_by,
            shared_by=shared_by,
            shared_from_workspace=workspace_name(workspace),
        ),
        id=memory.id,
    )


class TeamPool:
    """The team pool named by ``config.team``. Opened on first use; every method is safe to call when
    the pool is unreachable (reads return nothing, shares are queued)."""

    def __init__(
        self,
        config: StoreConfig,
        embedder: Embedder,
        *,
        clock: Callable[[], float] = time.monotonic,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.team = config.team
        self._embedder = embedder
        self._clock = clock
        self.user = self.team.who(environ)
        self.queue = ShareQueue(config.home)
        self._store: MemoryStore | None = None
        self._open_lock = threading.Lock()
        self._down_until = 0.0
        self._reachable: bool | None = None
        self._last_error = ""
        self._last_success: datetime | None = None

    @property
    def location(self) -> str:
        return self.team.uri

    def _store_config(self) -> StoreConfig:
        uri = object_store_uri(self.team.uri)
        if uri is not None:
            return attrs.evolve(self.config, pool_uri=uri)
        return attrs.evolve(self.config, pool_uri="", pool_dir=Path(self.team.uri))

    # ----- reaching the pool ---------------------------------------------------------------------

    def store(self, force: bool = False) -> MemoryStore:
        """The team pool's store; TeamUnavailable when it is not configured, or failed less than
        ``retry_after_s`` ago (unless ``force``), or fails now."""
        if not self.team.enabled:
            raise TeamUnavailable("no team pool is configured ([team] uri in config.toml)")
        with self._open_lock:
            if self._store is not None:
                return self._store
            if not force and self._clock() < self._down_until:
                raise TeamUnavailable(f"the team pool at {self.location} is unreachable: {self._last_error}")
            try:
                self._store = MemoryStore(self._store_config(), self._embedder)
            except (PoolError, OSError) as error:
                self._failed(error)
                raise TeamUnavailable(f"the team pool at {self.location} is unreachable: {error}") from error
            self._succeeded()
            return self._store

    def _failed(self, error: BaseException) -> None:
        self._reachable = False
        self._last_error = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        self._down_until = self._clock() + self.team.retry_after_s
        logger.warning("team pool %s: %s", self.location, self._last_error)

    def _succeeded(self) -> None:
        self._reachable = True
        self._last_error = ""
        self._last_success = utcnow()

    def _call(self, what: Callable[[MemoryStore], Any], force: bool = False) -> Any:
        store = self.store(force=force)
        if not force and self._clock() < self._down_until:
            raise TeamUnavailable(f"the team pool at {self.location} is unreachable: {self._last_error}")
        try:
            result = what(store)
        except (PoolError, OSError, RuntimeError, ValueError) as error:
            if isinstance(error, MemoryNotFound):
                raise
            self._failed(error)
            raise TeamUnavailable(f"the team pool at {self.location} failed: {error}") from error
        self._succeeded()
        return result

    def status(self) -> TeamStatus:
        return TeamStatus(
            configured=self.team.enabled,
            location=self.location,
            reachable=self._reachable,
            queued=len(self.queue) if self.team.enabled else 0,
            last_error=self._last_error,
            last_success=self._last_success,
        )

    # ----- reading -------------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> list[SearchHit]:
        """The team memories for ``query``, ranked exactly as the local pool ranks (the same
        ``MemoryStore.search``), each with who shared it; [] when the pool is unreachable."""
        if not self.team.enabled:
            return []
        try:
            hits: list[SearchHit] = self._call(lambda store: store.search(query))
            return self._with_sharers(hits)
        except TeamUnavailable:
            return []

    def candidates(
        self,
        vectors: Any,
        *,
        kinds: Sequence[Kind | str] = (),
        workspace: str | None = None,
        limit: int,
    ) -> list[tuple[Memory, Any]]:
        """``MemoryStore.candidates`` of the team pool (same arguments, same result: memories with
        their cosine similarity to each query vector, unranked), each memory with who shared it; []
        when the pool is unreachable. The recall layer ranks local and team candidates together."""
        if not self.team.enabled:
            return []
        try:
            found: list[tuple[Memory, Any]] = self._call(
                lambda store: store.candidates(vectors, kinds=kinds, workspace=workspace, limit=limit)
            )
        except TeamUnavailable:
            return []
        sharers = self._sharers([memory.id for memory, _ in found])
        return [(self._fill(memory, sharers), similarities) for memory, similarities in found]

    def get(self, memory_id: str) -> Memory | None:
        found: Memory | None = self._call(lambda store: store.get(store.resolve_id(memory_id)))
        return None if found is None else self._with_sharer(found)

    def list_memories(self, limit: int | None = None) -> list[Memory]:
        memories: list[Memory] = self._call(lambda store: store.list_memories(limit=limit))
        return [self._with_sharer(memory) for memory in memories]

    def _sharers(self, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        if not ids:
            return {}
        from lancedb.expr import col, lit

        store = self.store()
        table = (
            store._memories.search()
            .where(col("id").isin([lit(memory_id) for memory_id in set(ids)]))
            .select(["id", "shared_by", "shared_from_workspace"])
            .limit(None)
            .to_arrow()
        )
        return {
            row["id"]: (row["shared_by"] or "", row["shared_from_workspace"] or "")
            for row in table.to_pylist()
        }

    def _with_sharer(self, memory: Memory) -> Memory:
        return self._fill(memory, self._sharers([memory.id]))

    def _with_sharers(self, hits: Sequence[SearchHit]) -> list[SearchHit]:
        sharers = self._sharers([hit.memory.id for hit in hits])
        return [attrs.evolve(hit, memory=self._fill(hit.memory, sharers)) for hit in hits]

    @staticmethod
    def _fill(memory: Memory, sharers: dict[str, tuple[str, str]]) -> Memory:
        if memory.provenance.shared_by or memory.id not in sharers:
            return memory
        shared_by, workspace = sharers[memory.id]
        provenance = attrs.evolve(memory.provenance, shared_by=shared_by, shared_from_workspace=workspace)
        return attrs.evolve(memory, provenance=provenance)

    # ----- sharing -------------------------------------------------------------------------------

    def share(self, local: MemoryStore, memory_id: str, workspace: str | None = None) -> ShareResult:
        """Copy the local memory ``memory_id`` (or a unique prefix) to the team pool.

        Raises ShareRefused while a secret pattern remains in it or when it is not an accepted memory
        (proposed, rejected); MemoryNotFound when there is none. Queues it when the team pool cannot
        be reached (``outcome="queued"``)."""
        if not self.team.enabled:
            raise TeamUnavailable("no team pool is configured ([team] uri in config.toml)")
        memory = local.get_required(local.resolve_id(memory_id))
        self._check_shareable(memory)
        where = workspace if workspace is not None else memory.provenance.workspace
        try:
            result = self._write(memory, self.user, where)
        except TeamUnavailable as error:
            self.queue.add(QueuedShare(memory.id, self.user, where, utcnow().isoformat(timespec="seconds")))
            return ShareResult(id=memory.id, outcome="queued", detail=str(error))
        self.flush(local)
        return result

    @staticmethod
    def _check_shareable(memory: Memory) -> None:
        if memory.status in (Status.PROPOSED, Status.REJECTED):
            raise ShareRefused(
                f"{memory.id} is {memory.status.value}: only accepted memories can be shared with the team"
            )
        found = secrets_in(memory)
        if found:
            raise ShareRefused(
                f"{memory.id} still holds what looks like a secret ({'; '.join(found)}); edit or forget "
                f"it before sharing"
            )

    def _write(self, memory: Memory, shared_by: str, workspace: str) -> ShareResult:
        draft = redact_draft(team_draft(memory, shared_by, workspace))

        def write(store: MemoryStore) -> ShareResult:
            row = self._row(store, draft, memory.id)
            # On object storage the store's lock only orders this process's threads (the commit
            # protocol orders machines); in a shared directory it is the pool's file lock.
            with store._lock.hold():
                store.refresh()
                if store.get(memory.id) is not None:
                    return ShareResult(
                        id=memory.id,
                        outcome="merged",
                        team_id=memory.id,
                        detail="the team pool already has this memory",
                    )
                upsert = store._memories.merge_insert("id").when_matched_update_all()
                upsert.when_not_matched_insert_all().execute(row)
            return ShareResult(id=memory.id, outcome="shared", team_id=memory.id)

        result: ShareResult = self._call(write)
        return result

    @staticmethod
    def _row(store: MemoryStore, draft: MemoryDraft, memory_id: str) -> Any:
        """The team row of ``draft``: every column of the schema, written in one commit (an upsert on
        the ``id`` primary key, so two machines sharing one memory at once leave one row)."""
        import numpy as np
        import pyarrow as pa

        key = embedding_key(draft, store.meta.embed_key)
        vector = np.asarray(store.embedder.embed([key])[0], dtype=np.float32)
        provenance = draft.provenance
        row = new_row(draft, memory_id, key, vector, now=utcnow(), embedder=store.embedder.name)
        row.update(
            scope=Scope.TEAM.value,
            status=Status.ACTIVE.value,
            shared_by=provenance.shared_by,
            shared_from_workspace=provenance.shared_from_workspace,
        )
        missing = set(MEMORY_COLUMNS) ^ set(row)
        if missing:  # the schema changed and this writer was not told
            raise PoolError(f"the team row does not match the schema: {sorted(missing)}")
        return pa.Table.from_pylist([row], schema=store._memories.schema)

    def flush(self, local: MemoryStore, force: bool = False) -> int:
        """Write the queued shares (those still shareable); returns how many were written. Stops at
        the first failure (the rest stay queued)."""
        if not self.team.enabled or not self.queue.path.exists():
            return 0
        if not force and self._clock() < self._down_until:
            return 0
        written = 0
        with self.queue.draining() as (shares, done):
            for share in shares:
                memory = local.get(share.memory_id)
                if memory is None:
                    logger.info("queued share %s: the memory was forgotten; dropped", share.memory_id)
                    done(share)
                    continue
                try:
                    self._check_shareable(memory)
                except ShareRefused as refusal:
                    logger.warning("queued share dropped: %s", refusal)
                    done(share)
                    continue
                try:
                    self._write(memory, share.shared_by, share.workspace)
                except TeamUnavailable:
                    break
                done(share)
                written += 1
        return written


class PooledSearch:
    """The local pool and the team pool searched with one query and merged: the same ranking (each
    pool's ``MemoryStore.search``), each memory once (the better-scoring copy; a tie keeps the local
    one, which carries the person's own pins and votes), best first, at most ``query.k``. A
    ``Searcher`` for ``carryover.recall.suggest``."""

    def __init__(self, local: MemoryStore, team: TeamPool | None) -> None:
        self.local = local
        self.team = team
        self.config = local.config
        """The local pool's: its ranking settings and where its feedback correction lives."""

    def embed_query(self, texts: Sequence[str]) -> Any:
        return self.local.embed_query(texts)

    def candidates(
        self,
        vectors: Any,
        *,
        kinds: Sequence[Kind | str] = (),
        workspace: str | None = None,
        limit: int,
    ) -> list[tuple[Memory, Any]]:
        """Both pools' candidates for the recall layer to rank together, each memory once (the local
        copy, which carries the person's own pins and votes, when both pools hold it)."""
        found = self.local.candidates(vectors, kinds=kinds, workspace=workspace, limit=limit)
        if self.team is None or not self.team.team.enabled:
            return found
        known = {memory.id for memory, _ in found}
        for memory, similarities in self.team.candidates(
            vectors, kinds=kinds, workspace=workspace, limit=limit
        ):
            if memory.id not in known:
                found.append((memory, similarities))
                known.add(memory.id)
        return found

    def search(self, query: SearchQuery) -> list[SearchHit]:
        hits = self.local.search(query)
        if self.team is None or not self.team.team.enabled:
            return hits
        best: dict[str, tuple[int, SearchHit]] = {hit.memory.id: (0, hit) for hit in hits}
        for hit in self.team.search(query):
            known = best.get(hit.memory.id)
            if known is None or hit.score > known[1].score:
                best[hit.memory.id] = (1, hit)
        ordered = sorted(best.values(), key=lambda pair: (-pair[1].score, pair[0], pair[1].memory.id))
        return [hit for _, hit in ordered][: query.k]


__all__ = [
    "PooledSearch",
    "QueuedShare",
    "ShareQueue",
    "ShareRefused",
    "ShareResult",
    "TeamPool",
    "TeamStatus",
    "TeamUnavailable",
    "secrets_in",
    "team_draft",
]

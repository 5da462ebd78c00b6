"""The read commands (``carryover search``, ``show``, ``list``) as one function of a pool and a request:
what they print and their exit status.

The command line calls ``answer`` in its own process when no daemon answers, and a daemon calls the
very same function for a request that came over the local socket, so the two cannot differ: the
same ``recall.suggest``, the same options (the CLI's, never the editor's settings), the same text.
Memory text is printed as it is; the command line writes it out through ``terminal_safe``.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import attrs

from carryover.local.protocol import Answer, ListArgs, ReadArgs, SearchArgs, ShowArgs
from carryover.pool.errors import MemoryNotFound, PoolError
from carryover.pool.jsonl import memory_to_json
from carryover.pool.locking import PoolBusy
from carryover.pool.ranking import CandidatePool
from carryover.pool.records import Kind, Memory, SearchHit, SearchQuery, Status

if TYPE_CHECKING:
    from carryover.pool.config import StoreConfig


class ReadablePool(CandidatePool, Protocol):
    """What the read commands need of a pool: ``MemoryStore``, or the replica's ``LeanPool``."""

    @property
    def config(self) -> StoreConfig: ...

    def search(self, query: SearchQuery) -> list[SearchHit]: ...

    def get_required(self, memory_id: str) -> Memory: ...

    def resolve_id(self, prefix: str) -> str: ...

    def list_memories(
        self, kind: Kind | None = None, status: Status | None = None, limit: int | None = None
    ) -> list[Memory]: ...


class ReadError(ValueError):
    """The request cannot be answered as asked; the message is shown as it is."""


def hit_to_json(hit: SearchHit) -> dict[str, Any]:
    """The documented, stable form of one search hit (see README, "JSON output")."""
    memory = hit.memory
    return {
        "id": memory.id,
        "kind": memory.kind.value,
        "title": memory.title,
        "description": memory.description,
        "content": memory.content,
        "languages": list(memory.languages),
        "tools": list(memory.tools),
        "outcome": memory.outcome.value,
        "status": memory.status.value,
        "score": hit.score,
        "why": {
            "similarity": hit.why.similarity,
            "abstraction_weight": hit.why.abstraction_weight,
            "feedback": hit.why.feedback,
            "guard": hit.why.guard,
            "pinned": hit.why.pinned,
        },
    }


def languages_label(memory: Memory) -> str:
    return ", ".join(memory.languages) or "any language"


def memory_line(memory: Memory) -> str:
    status = "" if memory.status is Status.ACTIVE else f" [{memory.status.value}]"
    return f"{memory.id}  {memory.kind.value:<10} {memory.outcome.value:<7} {memory.title}{status}"


def _emit(out: TextIO, value: Any) -> None:
    out.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def search(store: ReadablePool, args: SearchArgs, out: TextIO) -> int:
    from carryover.recall.moment import Diagnostic, FailedRun, Moment, RecallOptions, suggest

    if not 1 <= args.k <= 50:
        raise ReadError("--k must be between 1 and 50")
    if args.output and not args.failed_command:
        raise ReadError("--output needs --failed-command (the command that printed it)")
    options = RecallOptions(k=args.k, kinds=tuple(Kind(kind) for kind in args.kinds))
    if args.min_score is not None:
        options = attrs.evolve(options, min_score=args.min_score, threshold=args.min_score)
    failed = None
    if args.failed_command:
        failed = FailedRun(args.failed_command, output=args.output, exit_code=1)
    moment = Moment.of_text(
        args.query,
        language=args.language,
        diagnostics=tuple(Diagnostic(message) for message in args.diagnostics),
        failed_run=failed,
        workspace=args.workspace,
    )
    suggestions = suggest(store, moment, options)
    if args.json:
        hits = [{**hit_to_json(item.hit), "basis": item.basis} for item in suggestions]
        _emit(out, {"query": args.query, "language": args.language, "hits": hits})
        return 0
    if not suggestions:
        print("no memory applies", file=out)
        return 0
    for rank, item in enumerate(suggestions, start=1):
        hit = item.hit
        memory = hit.memory
        label = f"[{memory.kind.value}, {memory.outcome.value}]"
        print(f"{rank}. {label} {memory.title}  (score {hit.score:.3f})", file=out)
        print(
            f"   {memory.id} · learned in {languages_label(memory)} · {hit.why.guard}"
            f"{' · pinned' if hit.why.pinned else ''} · for {item.basis}",
            file=out,
        )
        if memory.description:
            print(f"   {memory.description}", file=out)
        if memory.content and memory.kind is Kind.INSIGHT:
            print(f"   {memory.content}", file=out)
    return 0


def listing(store: ReadablePool, args: ListArgs, out: TextIO) -> int:
    if args.limit is not None and args.limit < 0:
        raise ReadError("--limit must be 0 or more")
    memories = store.list_memories(
        kind=Kind(args.kind) if args.kind else None,
        status=Status(args.status) if args.status else None,
        limit=args.limit,
    )
    if args.json:
        _emit(out, [memory_to_json(memory) for memory in memories])
        return 0
    for memory in memories:
        print(memory_line(memory), file=out)
    if not memories:
        print("no memories", file=out)
    return 0


def show(store: ReadablePool, args: ShowArgs, out: TextIO) -> int:
    memory = store.get_required(store.resolve_id(args.id))
    if args.json:
        _emit(out, memory_to_json(memory))
        return 0
    print(f"# {memory.title}", file=out)
    print(
        f"{memory.kind.value} · {memory.outcome.value} · {memory.status.value} · {memory.scope.value}",
        file=out,
    )
    print(f"languages: {languages_label(memory)}; tools: {', '.join(memory.tools) or '-'}", file=out)
    if memory.description:
        print(f"\n{memory.description}", file=out)
    if memory.content:
        print(f"\n{memory.content}", file=out)
    if memory.when_not:
        print(f"\nWhen not to use: {memory.when_not}", file=out)
    if memory.check_command:
        print(f"Check: {memory.check_command}", file=out)
    provenance = memory.provenance
    print(
        f"\nid {memory.id}; from {provenance.source}"
        f"{' in ' + provenance.workspace if provenance.workspace else ''}; "
        f"created {memory.created_at:%Y-%m-%d %H:%M} UTC; merged {memory.merged_count}×; "
        f"helpful {memory.helpful}, unhelpful {memory.unhelpful}",
        file=out,
    )
    if provenance.episode_ids:
        print(f"episodes: {', '.join(provenance.episode_ids)}", file=out)
    if memory.reject_reason:
        print(f"rejected because: {memory.reject_reason}", file=out)
    return 0


def _errors() -> tuple[type[BaseException], ...]:
    """What a read command reports in one line (as the command line does for every command)."""
    from carryover.pool.embedding import EmbedderError

    return (ReadError, EmbedderError, PoolError, PoolBusy, ValueError)


def answer(store: ReadablePool, args: ReadArgs) -> Answer:
    """Run one read command on ``store``: what it printed (also before an error) and its status."""
    out = io.StringIO()
    try:
        if isinstance(args, SearchArgs):
            code = search(store, args, out)
        elif isinstance(args, ShowArgs):
            code = show(store, args, out)
        else:
            code = listing(store, args, out)
    except MemoryNotFound as error:
        return Answer(out.getvalue(), f"carryover: no memory {error.args[0]}\n", 1)
    except _errors() as error:
        return Answer(out.getvalue(), f"carryover: error: {error}\n", 1)
    return Answer(out.getvalue(), "", code)

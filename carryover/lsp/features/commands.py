"""workspace/executeCommand: pin, reject (with a reason), restore, forget, search, show, why, distill
now, pause/resume capture, export, and what an editor's views list (list, suggest). Each takes one
object argument (camelCase), typed in server/wire.py.

An unknown memory id or a missing argument is InvalidParams (-32602); a pool that could not be opened
is RequestFailed (-32803) with the reason. The memory-changing commands re-analyse open documents, so
inline suggestions follow at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams

from carryover.lsp.features import inline
from carryover.lsp.guard import guarded
from carryover.lsp.server import CarryoverServer, RequestFailed
from carryover.lsp.wire import (
    CMD_DISTILL,
    CMD_EXPORT,
    CMD_FORGET,
    CMD_LIST,
    CMD_PAUSE,
    CMD_PIN,
    CMD_REJECT,
    CMD_RESTORE,
    CMD_RESUME,
    CMD_SEARCH,
    CMD_SHOW,
    CMD_SUGGEST,
    CMD_WHY,
    ExportArgs,
    ListArgs,
    MemoryRef,
    RejectArgs,
    SearchArgs,
    ShowArgs,
    SuggestArgs,
    WhyArgs,
    require_objects,
)
from carryover.pool.records import Kind, SearchQuery, Status
from carryover.recall import moment as recall
from carryover.recall.moment import CANDIDATES, Moment, evidence_of, learn_from
from carryover.recall.render import (
    PREVIEW_CHARS,
    hit_json,
    memory_json,
    memory_markdown,
    message_text,
    why_line,
)
from carryover.recall.retrieve import Suggestion

logger = logging.getLogger(__name__)
T = TypeVar("T")


REJECT_REASONS = ("Wrong for this language or project", "Outdated", "Too generic to help", "No reason")
NO_DISTILLER = (
    "Carryover: no distiller is configured yet, so nothing was distilled. Captured events are kept and "
    "will be distilled once one is."
)


async def _call(ls: CarryoverServer, function: Callable[..., T], *args: Any) -> T:
    """Run a store call in a worker; an unknown memory id becomes InvalidParams."""
    from carryover.pool.store import MemoryNotFound

    try:
        return await ls.workers.run(function, *args)
    except MemoryNotFound as error:
        raise JsonRpcInvalidParams(message=f"no memory {error.args[0]}") from error


async def _changed(ls: CarryoverServer) -> None:
    await ls.memories_changed()


async def _learn(
    ls: CarryoverServer, store: Any, memory_id: str, where: MemoryRef | RejectArgs, helped: bool
) -> None:
    """The ranking learns from a pin or rejection made where the memory was shown; a failure here
    is logged and never fails the pin or rejection itself."""
    if where.uri is None or where.line is None or where.line < 0:
        return
    try:
        moment = shown_moment(ls, where.uri, where.line, where.diagnostic)
        if moment is None:
            return
        learned = await ls.workers.run(learn_from, store, moment, memory_id, helped)
    except Exception:
        logger.warning("the ranking could not learn from the feedback on %s", memory_id, exc_info=True)
        return
    logger.info(
        "the ranking %s from the feedback on %s", "learned" if learned else "learned nothing", memory_id
    )


async def pin(ls: CarryoverServer, args: MemoryRef) -> dict[str, Any]:
    store = await ls.store_for_command()
    memory_id = await _call(ls, store.resolve_id, args.memory_id)
    await _learn(ls, store, memory_id, args, helped=True)
    memory = await _call(ls, store.pin, memory_id)
    logger.info("pinned %s", memory_id)
    await _changed(ls)
    return memory_json(memory)


async def restore(ls: CarryoverServer, args: MemoryRef) -> dict[str, Any]:
    store = await ls.store_for_command()
    memory_id = await _call(ls, store.resolve_id, args.memory_id)
    memory = await _call(ls, store.restore, memory_id)
    await _changed(ls)
    return memory_json(memory)


async def _ask_reason(ls: CarryoverServer, title: str) -> str | None:
    """A reason chosen by the user; "" when the client cannot ask; None when the user dismissed it."""
    try:
        choice = await ls.window_show_message_request_async(
            lsp.ShowMessageRequestParams(
                type=lsp.MessageType.Info,
                message=f"Reject the memory “{message_text(title, 120)}”? It will not be shown again. Why?",
                actions=[lsp.MessageActionItem(title=reason) for reason in REJECT_REASONS],
            )
        )
    except Exception as error:  # noqa: BLE001 - a client that cannot ask: reject without a reason
        logger.info("could not ask for a reason: %s", error)
        return ""
    if choice is None:
        return None
    return "" if choice.title == REJECT_REASONS[-1] else choice.title


async def reject(ls: CarryoverServer, args: RejectArgs) -> dict[str, Any]:
    store = await ls.store_for_command()
    memory_id = await _call(ls, store.resolve_id, args.memory_id)
    reason = args.reason
    if reason is None:
        memory = await _call(ls, store.get_required, memory_id)
        reason = await _ask_reason(ls, memory.title)
        if reason is None:
            return {**memory_json(memory), "rejected": False}
    await _learn(ls, store, memory_id, args, helped=False)
    memory = await _call(ls, store.reject, memory_id, reason)
    logger.info("rejected %s", memory_id)
    await _changed(ls)
    return {**memory_json(memory), "rejected": True}


async def forget(ls: CarryoverServer, args: MemoryRef) -> dict[str, Any]:
    store = await ls.store_for_command()
    memory_id = await _call(ls, store.resolve_id, args.memory_id)
    forgotten = await _call(ls, store.forget, memory_id)
    logger.info("forgot %s", memory_id)
    await _changed(ls)
    return {"id": memory_id, "forgotten": forgotten}


async def search(ls: CarryoverServer, args: SearchArgs) -> dict[str, Any]:
    store = await ls.store_for_command()
    try:
        kinds = tuple(Kind(kind) for kind in args.kinds)
    except ValueError as error:
        raise JsonRpcInvalidParams(message=f"kinds: {error}") from error
    if not 1 <= args.k <= 100:
        raise JsonRpcInvalidParams(message="k must be between 1 and 100")
    query = SearchQuery(text=args.query, language=args.language, k=args.k, kinds=kinds)
    hits = await _call(ls, store.search, query)
    return {"query": args.query, "language": args.language, "hits": [hit_json(hit) for hit in hits]}


async def show(ls: CarryoverServer, args: ShowArgs) -> dict[str, Any]:
    store = await ls.store_for_command()
    memory_id = await _call(ls, store.resolve_id, args.memory_id)
    memory = await _call(ls, store.get_required, memory_id)
    markdown = memory_markdown(memory, heading="#", limit=PREVIEW_CHARS)
    if args.reveal:
        body = memory.content if memory.content.strip() else memory.description
        ls.show(f"Carryover: {message_text(memory.title, 120)} — {message_text(body)}")
    return {"memory": memory_json(memory), "markdown": markdown}


async def why(ls: CarryoverServer, args: WhyArgs) -> dict[str, Any]:
    """Why a memory is (or is not) shown: the moment where it was shown (``uri`` and ``line``) or the
    typed text, ranked by the same retrieval as the hover over all its candidates; the memory's rank,
    the model's probability and the features that raised it."""
    store = await ls.store_for_command()
    memory_id = await _call(ls, store.resolve_id, args.memory_id)
    memory = await _call(ls, store.get_required, memory_id)
    result: dict[str, Any] = {"id": memory_id, "status": memory.status.value}
    moment = _why_moment(ls, args)
    explanation = ""
    if moment is not None:
        shows = ls.settings.max_results
        options = attrs.evolve(ls.recall_options(k=CANDIDATES), evidence=False, min_score=0.0)
        ranked = await ls.workers.run(recall.suggest, await ls.searcher(store), moment, options)
        place = next((index for index, item in enumerate(ranked) if item.hit.memory.id == memory_id), None)
        if place is not None:
            found = ranked[place]
            speaks = moment.typed or evidence_of(moment)
            verdict = (
                f"the hover shows the top {shows}"
                if speaks
                else "the hover stays quiet here: no diagnostic, failed run or recognised code situation"
            )
            explanation = (
                f"{why_line(found.hit, found.basis)} · ranked {place + 1} of {len(ranked)}, "
                f"probability {found.hit.score:.2f} ({verdict})"
            )
            result.update(
                rank=place + 1,
                candidates=len(ranked),
                score=found.hit.score,
                similarity=found.hit.why.similarity,
                guard=found.hit.why.guard,
                pinned=found.hit.why.pinned,
                shown=bool(speaks) and place < shows and found.hit.score >= ls.settings.relevance_threshold,
            )
    if not explanation:
        state = "rejected: never shown" if memory.status is Status.REJECTED else memory.status.value
        where = "" if moment is None else f"; not among the {CANDIDATES} candidates for this moment"
        explanation = (
            f"why this: {memory.kind.value} ({state}), feedback +{memory.helpful}/-{memory.unhelpful}{where}"
        )
        result["shown"] = False
    explanation += f" (shown from {ls.settings.relevance_threshold:.2f})"
    result["explanation"] = explanation
    ls.show(f"Carryover: “{message_text(memory.title, 120)}” — {message_text(explanation)}")
    return result


def shown_moment(ls: CarryoverServer, uri: str, line: int, diagnostic: str | None) -> Moment | None:
    """The moment where a code action showed a memory: the document's line, with the diagnostic the
    quick fix was for (else the diagnostics forwarded on that line)."""
    info = ls.document(uri)
    if not 0 <= line < len(info.lines):
        return None
    return ls.moment_at(info, line, [diagnostic] if diagnostic else None)


def _why_moment(ls: CarryoverServer, args: WhyArgs) -> Moment | None:
    if args.uri is not None and args.line is not None and args.line >= 0:
        moment = shown_moment(ls, args.uri, args.line, args.diagnostic)
        if moment is not None:
            return moment
    if args.query.strip():
        return Moment.of_text(args.query, language=args.language, workspace=args.workspace)
    return None


async def distill(ls: CarryoverServer, *_options: object) -> dict[str, Any]:
    """Distil the finished episodes now: the pipeline's one run (store what was captured, segment
    once, distil, store), reporting progress with workDoneProgress. Takes no arguments."""
    from carryover.pipeline.runner import PipelineRunner

    service = ls.capture_service
    store = await ls.store_for_command()
    if service is not None:
        run_now: Callable[..., Any] = service.distill_now
    elif ls.options.distiller is not None:
        run_now = PipelineRunner(store, distiller=ls.options.distiller).run
    else:
        ls.show(NO_DISTILLER)
        return {"distilled": False, "message": NO_DISTILLER}
    progress = ls.work_done_progress
    token = f"carryover-distill-{uuid.uuid4().hex[:12]}"
    reporting = ls.client_supports("window", "work_done_progress")
    if reporting:
        try:
            await asyncio.wait_for(progress.create_async(token), 10.0)
        except Exception as error:  # noqa: BLE001 - no progress bar is not a reason to fail
            logger.info("no progress for distillation: %s", error)
            reporting = False
    loop = asyncio.get_running_loop()

    def on_progress(done: int, total: int, message: str) -> None:
        if reporting:
            percentage = min(100, done * 100 // total) if total else None
            value = lsp.WorkDoneProgressReport(message=message, percentage=percentage)
            loop.call_soon_threadsafe(progress.report, token, value)

    if reporting:
        progress.begin(token, lsp.WorkDoneProgressBegin(title="Carryover: distilling", percentage=0))
    try:
        report = await ls.workers.run(run_now, on_progress, background=True)
    except Exception as error:
        logger.exception("distillation failed")
        message = f"Carryover: distillation failed: {error}"
        ls.show(message, lsp.MessageType.Error)
        if reporting:  # queued after any report from the worker, so "end" is the last word
            loop.call_soon(progress.end, token, lsp.WorkDoneProgressEnd(message="failed"))
        return {"distilled": False, "message": message}
    if reporting:
        loop.call_soon(progress.end, token, lsp.WorkDoneProgressEnd(message=report.message or "done"))
    logger.info("distilled: %s", report.message)
    await _changed(ls)
    return {
        "distilled": True,
        "episodes": report.episodes,
        "added": report.added,
        "merged": report.merged,
        "message": report.message,
    }


async def pause_capture(ls: CarryoverServer, *_options: object) -> dict[str, Any]:
    ls.capture.paused = True
    logger.info("capture paused")
    ls.notify_status("capture-paused")
    return {"capture": "paused"}


async def resume_capture(ls: CarryoverServer, *_options: object) -> dict[str, Any]:
    ls.capture.paused = False
    logger.info("capture resumed")
    ls.notify_status("capture-resumed" if ls.capture.recording else "capture-paused")
    return {"capture": "on" if ls.capture.recording else "off (setting capture is false)"}


class ExportRefused(ValueError):
    """The export path is not one the editor may write (outside the workspace, an existing file)."""


def export_target(path: str, folders: list[str]) -> Path:
    """Where ``carryover.export`` writes: ``path`` (relative to the first workspace folder, ``~``
    expanded) resolved through ``..`` and symlinks, which must lie inside one of the workspace
    ``folders``, in a directory that exists."""
    if not path.strip():
        raise ExportRefused("path is empty")
    if "\x00" in path:
        raise ExportRefused("path holds a NUL character")
    roots = [Path(folder).expanduser().resolve() for folder in folders]
    if not roots:
        raise ExportRefused("no workspace folder is open; export from the command line (carryover export)")
    given = Path(path).expanduser()
    target = (given if given.is_absolute() else roots[0] / given).resolve()
    if not any(target == root or target.is_relative_to(root) for root in roots):
        inside = ", ".join(str(root) for root in roots)
        raise ExportRefused(f"{path} is outside the workspace ({inside}); give a path inside it")
    if target.is_dir():
        raise ExportRefused(f"{target} is a directory; give a file name")
    if not target.parent.is_dir():
        raise ExportRefused(f"no directory {target.parent}")
    return target


def write_export(target: Path, memories: Any, overwrite: bool) -> int:
    """The memories as JSON lines in ``target``, all or nothing: written to a new private file beside
    it, then linked into place (never replacing a file) or, with ``overwrite``, renamed over it."""
    import json
    import os
    import tempfile

    from carryover.pool.jsonl import memory_to_object

    if target.exists() and not overwrite:
        raise ExportRefused(f"{target} exists; pass overwrite: true to replace it")
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    count = 0
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            for memory in memories:
                handle.write(json.dumps(memory_to_object(memory), ensure_ascii=False) + "\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, target)
        else:
            try:
                os.link(temporary, target)  # fails if the file appeared meanwhile: nothing replaced
            except FileExistsError as error:
                raise ExportRefused(f"{target} exists; pass overwrite: true to replace it") from error
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return count


async def export(ls: CarryoverServer, args: ExportArgs) -> dict[str, Any]:
    """Write memories (of one kind) as JSON lines to a file inside the workspace; an existing file
    is replaced only with ``overwrite: true``."""
    try:
        kind = Kind(args.kind) if args.kind else None
    except ValueError as error:
        raise JsonRpcInvalidParams(message=f"kind: {error}") from error
    folders = ls.folders()
    try:
        target = await ls.workers.run(export_target, args.path, folders)
    except ExportRefused as error:
        raise JsonRpcInvalidParams(message=f"export: {error}") from error
    store = await ls.store_for_command()

    def write() -> int:
        return write_export(target, store.list_memories(kind=kind), args.overwrite)

    try:
        count = await ls.workers.run(write)
    except ExportRefused as error:
        raise JsonRpcInvalidParams(message=f"export: {error}") from error
    except OSError as error:
        raise RequestFailed(
            message=f"export: {target} could not be written: {error.strerror or error}"
        ) from error
    logger.info("exported %d memories to %s", count, target)
    return {"path": str(target), "count": count}


async def list_memories(ls: CarryoverServer, args: ListArgs | None = None) -> dict[str, Any]:
    """The memories of one status (and kind), newest first: what an editor's views list. No argument:
    the 50 newest."""
    args = args or ListArgs()
    store = await ls.store_for_command()
    try:
        status = Status(args.status) if args.status else None
        kind = Kind(args.kind) if args.kind else None
    except ValueError as error:
        raise JsonRpcInvalidParams(message=f"status or kind: {error}") from error
    if not 1 <= args.limit <= 1000:
        raise JsonRpcInvalidParams(message="limit must be between 1 and 1000")
    memories = await _call(ls, store.list_memories, kind, status, args.limit)
    return {"memories": [memory_json(memory) for memory in memories]}


async def suggest(ls: CarryoverServer, args: SuggestArgs) -> dict[str, Any]:
    """What applies to a document: the hover's memories for ``line`` (the client's cursor line), then
    the document's strong marks (what the code lenses show), each once, with the line it is for."""

    await ls.store_for_command()
    if args.line is not None and args.line < 0:
        raise JsonRpcInvalidParams(message="line must be 0 or more")
    if args.uri not in ls.workspace.text_documents:
        return {"uri": args.uri, "hits": []}  # the client opens a document before asking
    info = ls.document(args.uri)
    if info.excluded:
        return {"uri": args.uri, "hits": []}
    found: list[tuple[int, Suggestion]] = []
    if args.line is not None:
        found += [(args.line, item) for item in await ls.suggestions_at(info, args.line)]
    analysis = await inline.current_analysis(ls, args.uri)
    if analysis is not None:
        found += [(mark.site.line, mark.suggestion) for mark in analysis.marks]
    hits: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line, item in found:
        if item.memory_id in seen:
            continue
        seen.add(item.memory_id)
        hits.append({**hit_json(item.hit, item.basis), "line": line, "basis": item.basis})
    return {"uri": args.uri, "hits": hits}


COMMANDS: dict[str, Callable[..., Any]] = {
    CMD_PIN: pin,
    CMD_REJECT: reject,
    CMD_RESTORE: restore,
    CMD_FORGET: forget,
    CMD_SEARCH: search,
    CMD_SHOW: show,
    CMD_WHY: why,
    CMD_DISTILL: distill,
    CMD_PAUSE: pause_capture,
    CMD_RESUME: resume_capture,
    CMD_EXPORT: export,
    CMD_LIST: list_memories,
    CMD_SUGGEST: suggest,
}


def register(server: CarryoverServer) -> None:
    require_objects(server.protocol._converter)
    for name, handler in COMMANDS.items():
        server.command(name)(guarded(name)(handler))

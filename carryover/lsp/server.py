"""The Carryover language server: the state the features share (``create_server`` in app.py).

Nothing heavy is imported here: LanceDB and the embedder load in a worker thread after
``initialize`` (``open_pool``), so the server answers ``initialize`` at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from carryover.lsp.announce import Announcer, Change
from carryover.lsp.editor_state import EditorState
from carryover.lsp.local_socket import LocalSocket
from carryover.lsp.log_bridge import ClientLogHandler
from carryover.lsp.protocol import CarryoverProtocol
from carryover.lsp.runtime import Background, StoreHandle, StoreUnavailable, Workers
from carryover.lsp.settings import Settings
from carryover.lsp.transport import serve_stdio
from carryover.lsp.wire import STATUS, StatusParams
from carryover.pipeline.capture.live import LiveCapture
from carryover.pipeline.events import EventSink
from carryover.recall.judge import Judge, JudgeConfig, Judged
from carryover.recall.moment import Diagnostic, FailedRun, Moment, RecallOptions, suggest
from carryover.recall.retrieve import Suggestion
from carryover.vocabulary import languages

if TYPE_CHECKING:
    from carryover.pipeline.distill.base import DistillReport
    from carryover.pipeline.distill.factory import DistillerSettings
    from carryover.pipeline.runner import AnyDistiller
    from carryover.pipeline.service import CaptureService
    from carryover.pool.store import MemoryStore
    from carryover.pool.team import PooledSearch, TeamPool

logger = logging.getLogger(__name__)

VERSION = "0.1.0"
REPLICA_SYNC_S = 10.0
"""How long a stopping daemon waits for the read replica to catch up."""


def default_open_store(db: Path | None, settings: Settings) -> MemoryStore:
    """Open the pool the way ``carryover`` does (config.toml, environment, ``--db``).

    The editor's endpoint settings are for the distillation model, not for embeddings: the pool's
    embedder is fixed by its config (switching it would make every existing vector incomparable)."""
    from carryover.pool.config import load_config
    from carryover.pool.store import open_store

    del settings
    return open_store(load_config(db=db))


def distiller_settings(settings: Settings) -> DistillerSettings | None:
    """The distillation model the editor's settings name (None: the environment's, else offline).
    The endpoint's key: the ``key`` setting, else ``CARRYOVER_DISTILL_API_KEY`` (how the VS Code
    extension passes it, so that no message carries it)."""
    from carryover.pipeline.distill.factory import DistillerSettings

    if not settings.endpoint:
        return None
    return DistillerSettings(endpoint=settings.endpoint, model=settings.model, api_key=settings.key or None)


def events_only(store: MemoryStore) -> EventSink:
    """A sink that stores events and nothing else: no segmentation or distillation."""
    from carryover.pipeline.capture.sink import PoolEventSink

    return PoolEventSink(store).start()


@attrs.frozen
class ServerOptions:
    db: Path | None = None
    """The pool directory (``--db``); None: the configured one."""
    distiller: AnyDistiller | None = None
    """A fixed distiller (``--distiller``); None: the one the settings or environment name."""
    sink_factory: Callable[[MemoryStore], EventSink] | None = None
    """Makes a started event sink once the pool is open (events captured before wait in memory).
    None: the full capture service (events, file watchers, the shell log, episodes and
    distillation); ``events_only`` stores events and nothing else (benchmarks of the event path)."""
    open_store: Callable[[Path | None, Settings], MemoryStore] = default_open_store
    feature_wait_s: float = 2.0
    """How long hover and friends wait for a pool that is still opening before answering nothing."""


@attrs.frozen
class DocumentInfo:
    uri: str
    path: str
    lines: Sequence[str]
    version: int | None
    language: str | None
    workspace: str
    excluded: bool


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but could not be done (the pool is unavailable)."""

    CODE = -32803


class CarryoverServer(LanguageServer):
    def __init__(self, options: ServerOptions) -> None:
        super().__init__(
            "carryover",
            VERSION,
            protocol_cls=CarryoverProtocol,
            text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
        )
        self.options = options
        self.settings = Settings()
        self.store = StoreHandle()
        self.workers = Workers()
        self.background = Background()
        self.editor = EditorState()
        self.announcer = Announcer()
        self.capture = LiveCapture(self.folders)
        self.sink: EventSink | None = None
        self.capture_service: CaptureService | None = None
        self.pool_dir: Path | None = None
        self.local_socket = LocalSocket(self.store, self.workers, self.background)
        """Answers ``carryover search``/``show``/``list`` once the pool is open (local_socket.py)."""
        self._team: TeamPool | None = None
        self.client_log = ClientLogHandler(self.window_log_message)
        self.analyses: dict[str, Any] = {}
        """Per document: the latest inline analysis (features/inline.py)."""
        self.debounced: dict[str, asyncio.Task[Any]] = {}

    # ----- transport ------------------------------------------------------------------------------

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve over stdio (carryover/lsp/transport.py reads a pipe on the event loop)."""
        serve_stdio(self, stdin, stdout)

    # ----- the pool -------------------------------------------------------------------------------

    def start_pool(self) -> None:
        self.background.spawn(self.open_pool(), name="open-pool")

    async def open_pool(self) -> None:
        future = self.store.opening()
        settings = self.settings
        try:
            store, count = await self.workers.run(self._open_and_warm, settings, background=True)
        except Exception as error:  # any failure to open is reported to the user
            message = f"Carryover could not open the memory pool: {error}"
            logger.error("%s", message, exc_info=error)
            self.store.error = message
            future.set_exception(StoreUnavailable(message))
            future.exception()  # retrieved: features see None, commands the message
            self.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Error, message=message))
            self.notify_status("error", message)
            return
        if future is not self.store._future:  # reopened meanwhile: this one is stale
            return
        future.set_result(store)
        if self.sink is None:
            self._start_sink(store)
        self.local_socket.start(store.config.pool_dir)
        logger.info("memory pool ready: %s (%d memories)", store.config.pool_dir, count)
        self.notify_status("ready", f"memory pool ready ({count} memories)", memories=count)
        self.announcer.announce(Change.POOL_READY)

    def _open_and_warm(self, settings: Settings) -> tuple[MemoryStore, int]:
        from carryover.pool.records import SearchQuery

        store = self.options.open_store(self.options.db, settings)
        store.search(SearchQuery(text="warm up the embedder", k=1))  # loads the model now, not on a hover
        return store, store.count()

    def _start_sink(self, store: MemoryStore) -> None:
        """The sink lives as long as the server (a reopened pool is the same directory)."""
        self.pool_dir = store.config.pool_dir
        if self.options.sink_factory is not None:
            self.sink = self.options.sink_factory(store)
        else:
            from carryover.pipeline.service import CaptureService

            self.capture_service = CaptureService(
                store,
                self.folders(),
                exclude=self.settings.exclude,
                distiller=self.options.distiller,
                distiller_settings=distiller_settings(self.settings),
                on_report=self._on_background_report(asyncio.get_running_loop()),
                foreground=self.workers.foreground,
            ).start()
            self.sink = self.capture_service.sink
        self.capture.attach(
            self.sink, self.capture_service.note_editor_write if self.capture_service is not None else None
        )

    def _on_background_report(self, loop: asyncio.AbstractEventLoop) -> Callable[[DistillReport], None]:
        """For the distillation thread: when a run added or merged memories, tell the editor."""

        def on_report(report: DistillReport) -> None:
            if (report.added or report.merged) and not loop.is_closed():
                loop.call_soon_threadsafe(self.background.spawn, self.memories_changed(), "memories-changed")

        return on_report

    async def store_for_command(self) -> MemoryStore:
        """The pool for a command: waits while it opens; RequestFailed with the reason when it cannot."""
        try:
            return await self.store.require()
        except StoreUnavailable as error:
            raise RequestFailed(message=str(self.store.error or error)) from error

    async def memories_changed(self) -> None:
        """After the pool changed (a distillation, a pin, a rejection): the status item's count and the
        views (``carryover/status`` "changed"), and the inline suggestions of the open documents."""
        store = await self.store.get(None)
        if store is not None:
            count = await self.workers.run(store.count, background=True)
            self.notify_status("changed", f"{count} memories", memories=count)
        self.announcer.announce(Change.MEMORIES_CHANGED)

    # ----- recall -------------------------------------------------------------------------------

    def recall_options(self, k: int | None = None) -> RecallOptions:
        settings = self.settings
        return RecallOptions(
            k=k or settings.max_results,
            min_score=settings.relevance_threshold,
            scopes=settings.scopes,
        )

    def moment_at(self, info: DocumentInfo, line: int, diagnostics: Sequence[str] | None = None) -> Moment:
        """What the editor shows at ``line``: its document, the diagnostics on it (given, or those
        forwarded), and the workspace's last failing command with its output."""
        if diagnostics is None:
            found = [
                Diagnostic(item.message, item.source or "", "" if item.code is None else str(item.code))
                for item in self.editor.diagnostics_on_line(info.uri, line)
            ]
        else:
            found = [Diagnostic(message) for message in diagnostics]
        run = self.editor.failing_command(info.workspace)
        return Moment(
            language=info.language,
            lines=info.lines,
            line=line,
            diagnostics=tuple(found),
            failed_run=None
            if run is None
            else FailedRun(run.command, run.output, run.exit_code, run.error_line),
            workspace=info.workspace or None,
        )

    async def suggestions_at(
        self, info: DocumentInfo, line: int, diagnostics: Sequence[str] | None = None
    ) -> list[Suggestion]:
        """The memories for ``line`` of a document, best first; [] while the pool is not ready."""
        return (await self.judged_at(info, line, diagnostics)).suggestions

    async def judged_at(
        self, info: DocumentInfo, line: int, diagnostics: Sequence[str] | None = None
    ) -> Judged:
        """The memories for ``line`` and, where a judge is configured and has already judged this
        moment's candidates (in the background: features/ahead.py), its verdict and order. Never
        waits for the judge: until its verdict is ready this is the offline order."""
        if line < 0 or line >= len(info.lines):
            return Judged([])
        store = await self.store.get(self.options.feature_wait_s)
        if store is None:
            return Judged([])
        moment = self.moment_at(info, line, diagnostics)
        searcher = await self.searcher(store)
        judge = self.judge()
        if judge is None:
            return Judged(await self.workers.run(suggest, searcher, moment, self.recall_options()))
        return await self.workers.run(judge.suggest, searcher, moment, self.recall_options())

    _judge: Judge | None = None

    def judge_config(self) -> JudgeConfig | None:
        """The judge the settings name (``judge.enabled`` and an endpoint: its own, else the
        distillation's), None: offline, nothing is sent."""
        settings = self.settings
        judge = settings.judge
        endpoint = judge.endpoint or settings.endpoint
        if not judge.enabled or not endpoint:
            return None
        import os

        return JudgeConfig(
            model=judge.model or settings.model or "default",
            base_url=endpoint,
            api_key=settings.key or os.environ.get("CARRYOVER_DISTILL_API_KEY") or None,
            candidates=judge.candidates,
            deadline_s=judge.timeout_ms / 1000,
            max_tokens=judge.max_tokens,
        )

    def judge(self) -> Judge | None:
        """The judge of the settings in force (a new one, with an empty cache, when they change)."""
        config = self.judge_config()
        current = self._judge
        if config is None:
            if current is not None:
                self._judge = None
                current.close()
            return None
        if current is None or current.config != config:
            if current is not None:
                current.close()
            self._judge = Judge(config)
        return self._judge

    async def team_pool(self, store: MemoryStore) -> TeamPool | None:
        """The team pool of the pool's config (opened on first use, unreachable is fine); None
        when none is configured."""
        if not store.config.team.enabled:
            return None
        if self._team is None or self._team.config is not store.config:
            from carryover.pool.team import TeamPool

            self._team = TeamPool(store.config, store.embedder)
        return self._team

    async def searcher(self, store: MemoryStore) -> MemoryStore | PooledSearch:
        """What suggestions search: the pool, and the team pool merged in when one is configured."""
        team = await self.team_pool(store)
        if team is None:
            return store
        from carryover.pool.team import PooledSearch

        return PooledSearch(store, team)

    # ----- documents and workspaces ---------------------------------------------------------------

    def folders(self) -> list[str]:
        try:
            workspace = self.workspace
        except RuntimeError:
            return []
        paths = [to_fs_path(folder.uri) or "" for folder in workspace.folders.values()]
        if workspace.root_path:
            paths.append(workspace.root_path)
        return [path for path in paths if path]

    def workspace_of(self, path: str) -> str:
        return self.capture.workspace_of(path)

    def excluded(self, path: str) -> bool:
        """Whether suggestions stay out of ``path`` (a secret file or a user exclude)."""
        return self.capture.hidden(path)

    def document(self, uri: str) -> DocumentInfo:
        doc = self.workspace.get_text_document(uri)
        path = to_fs_path(uri) or uri
        return DocumentInfo(
            uri=uri,
            path=path,
            lines=doc.lines,
            version=doc.version,
            language=languages.of_document(doc.language_id, path),
            workspace=self.workspace_of(path),
            excluded=self.excluded(path),
        )

    # ----- talking to the client ------------------------------------------------------------------

    def notify_status(self, state: str, message: str = "", memories: int | None = None) -> None:
        self.protocol.notify(STATUS, StatusParams(state=state, message=message, memories=memories))

    def show(self, message: str, kind: lsp.MessageType = lsp.MessageType.Info) -> None:
        self.window_show_message(lsp.ShowMessageParams(type=kind, message=message))

    def client_supports(self, *path: str) -> bool:
        """Whether the client capability at ``path`` (snake_case attribute names) is truthy."""
        try:
            node: Any = self.client_capabilities
        except RuntimeError:
            return False
        for name in path:
            node = getattr(node, name, None)
            if node is None:
                return False
        return bool(node)

    async def _leave_replica_in_step(self) -> None:
        """Bring the pool's read replica up to date on the way out, so that the command line's reads
        after this daemon stopped need no LanceDB (a failure costs them speed only)."""
        store = self.store.current
        if store is None:
            return
        try:
            await asyncio.wait_for(self.workers.run(store.sync_replica, background=True), REPLICA_SYNC_S)
        except Exception as error:  # the daemon is stopping: say why, and stop anyway
            logger.info("the read replica was not brought up to date", exc_info=error)

    async def close(self) -> None:
        for task in self.debounced.values():
            task.cancel()
        await self.local_socket.stop()
        await self.background.cancel_all()
        if self.sink is not None:
            await self.workers.run(self.sink.flush, 5.0)
        if self.capture_service is not None:
            await self.workers.run(self.capture_service.stop)
        await self._leave_replica_in_step()
        self.client_log.detach()
        self.workers.shutdown()

"""The `carryover` command line: the same pool as the editor, for scripts and people in a shell."""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

from carryover.local.protocol import Answer, ListArgs, ReadArgs, SearchArgs, ShowArgs
from carryover.pool.config import EMBED_KEYS, ConfigError, StoreConfig, load_config
from carryover.pool.errors import MemoryNotFound, PoolError
from carryover.pool.locking import PoolBusy
from carryover.pool.records import Kind, Memory, MemoryDraft, Provenance, Status

if TYPE_CHECKING:
    from carryover.pool.store import MemoryStore

logger = logging.getLogger(__name__)

KIND_CHOICES = [kind.value for kind in Kind]
STATUS_CHOICES = [status.value for status in Status]


class CommandError(RuntimeError):
    """A command could not do what was asked; the message is shown as it is."""


_UNSAFE_FOR_TERMINALS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
OUTPUT_READ_BYTES = 1_000_000


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal could act on (escape sequences, carriage returns,
    C1 controls, bidirectional overrides) written out as ``\\uXXXX``: memory text is shown, never
    obeyed. Inside JSON strings the same spelling is a valid escape, so JSON output stays valid."""
    return _UNSAFE_FOR_TERMINALS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class TerminalSafeWriter(io.TextIOBase):
    """A text stream that writes through ``terminal_safe`` (the CLI's stdout and stderr)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(terminal_safe(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def _emit(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


# ----- commands ---------------------------------------------------------------------------------


def cmd_add(store: MemoryStore, args: argparse.Namespace) -> int:
    draft = MemoryDraft(
        kind=args.kind,
        title=args.title,
        description=args.description,
        content=args.content,
        outcome=args.outcome,
        languages=args.language,
        tools=args.tool,
        scope=args.scope,
        when_not=args.when_not,
        check_command=args.check_command,
        provenance=Provenance(source="cli"),
    )
    result = store.add(draft)
    if args.json:
        _emit({"id": result.id, "action": result.action})
    elif result.action == "added":
        print(f"added {result.id}")
    else:
        print(f"merged into {result.id} (a near-identical memory was already there)")
    return 0


def cmd_import(store: MemoryStore, args: argparse.Namespace) -> int:
    from carryover.pool.importer import import_file

    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    report = import_file(store, path)
    if args.json:
        _emit(
            {
                "added": report.added,
                "merged": report.merged,
                "rejected": report.rejected,
                "errors": list(report.errors),
            }
        )
    else:
        print(f"added {report.added}, merged {report.merged}, rejected {report.rejected}")
        for error in report.errors:
            print(f"  rejected {error}", file=sys.stderr)
    return 0 if report.rejected == 0 else 1


def _output_text(value: str | None) -> str:
    """``--output``: the text itself, ``@FILE`` for a file's content, ``-`` for stdin (bounded)."""
    if not value:
        return ""
    if value == "-":
        raw = sys.stdin.buffer.read(OUTPUT_READ_BYTES)
    elif value.startswith("@"):
        try:
            with open(value[1:], "rb") as handle:
                raw = handle.read(OUTPUT_READ_BYTES)
        except OSError as error:
            raise CommandError(f"--output {value}: {error.strerror or error}") from error
    else:
        return value
    return raw.decode("utf-8", "replace")


def read_args(args: argparse.Namespace) -> ReadArgs:
    """What a read command was asked, as the local socket carries it (``--output`` read here: the
    daemon never opens the caller's files or stdin)."""
    if args.command == "search":
        output = args.output or ""
        if args.failed_command:
            output = _output_text(args.output)
        return SearchArgs(
            query=args.query,
            language=args.language,
            diagnostics=tuple(args.diagnostic),
            failed_command=args.failed_command,
            output=output,
            kinds=tuple(args.kind),
            workspace=args.workspace,
            k=args.k,
            min_score=args.min_score,
            json=args.json,
        )
    if args.command == "show":
        return ShowArgs(id=args.id, json=args.json)
    return ListArgs(kind=args.kind, status=args.status, limit=args.limit, json=args.json)


def run_read(config: StoreConfig, args: argparse.Namespace) -> int:
    """A read command: through the pool's running daemon when one answers (carryover/local), else
    here; the same function prints the answer either way (carryover/local/reads.py)."""
    request = read_args(args)
    answer = None
    if not args.no_daemon:
        from carryover.local.client import ask
        from carryover.local.protocol import ReadRequest, config_digest

        answer = ask(config.pool_dir, ReadRequest(args=request, config=config_digest(config)))
    if answer is None:
        answer = _answer_here(config, request)
    sys.stdout.write(terminal_safe(answer.stdout))
    sys.stdout.flush()
    sys.stderr.write(terminal_safe(answer.stderr))
    return answer.code


def _answer_here(config: StoreConfig, request: ReadArgs) -> Answer:
    """Answer from the pool's read replica when it is in step (no LanceDB); else open the pool,
    answer, and bring the replica up to date for the next command."""
    from carryover.local.reads import answer
    from carryover.pool.replica import open_lean_pool

    lean = open_lean_pool(config, search=isinstance(request, SearchArgs))
    if lean is not None:
        with lean:
            return answer(lean, request)
    store = _open_store(config)
    result = answer(store, request)
    _sync_replica(store)
    return result


def _sync_replica(store: MemoryStore) -> None:
    """Keep the read replica in step after a command; a failure costs the next read its speed only."""
    import sqlite3

    try:
        store.sync_replica()
    except (OSError, RuntimeError, ValueError, sqlite3.Error) as error:
        logging.getLogger(__name__).info("the read replica was not brought up to date", exc_info=error)


def _status_command(
    action: Callable[[MemoryStore, str, argparse.Namespace], Memory], verb: str
) -> Callable[[MemoryStore, argparse.Namespace], int]:
    def run(store: MemoryStore, args: argparse.Namespace) -> int:
        memory = action(store, store.resolve_id(args.id), args)
        print(f"{verb} {memory.id}: {memory.title}")
        return 0

    return run


cmd_pin = _status_command(lambda store, memory_id, _args: store.pin(memory_id), "pinned")
cmd_reject = _status_command(lambda store, memory_id, args: store.reject(memory_id, args.reason), "rejected")
cmd_restore = _status_command(lambda store, memory_id, _args: store.restore(memory_id), "restored")
cmd_feedback = _status_command(
    lambda store, memory_id, args: store.record_feedback(memory_id, helpful=args.vote == "helpful"),
    "recorded feedback for",
)


def cmd_forget(store: MemoryStore, args: argparse.Namespace) -> int:
    memory_id = store.resolve_id(args.id)
    store.forget(memory_id)
    print(f"forgot {memory_id}")
    return 0


def cmd_export(store: MemoryStore, args: argparse.Namespace) -> int:
    from carryover.pool.jsonl import write_lines

    memories = store.list_memories(kind=Kind(args.kind) if args.kind else None)
    count = write_lines(Path(args.file), reversed(memories))
    print(f"exported {count} memories to {args.file}")
    return 0


def cmd_stats(store: MemoryStore, args: argparse.Namespace) -> int:
    from carryover.pool.stats_report import pool_report, render_report

    report = pool_report(store, perplexity=args.perplexity, plot=Path(args.plot) if args.plot else None)
    if args.json:
        _emit(report)
    else:
        print(render_report(report))
    return 0


def cmd_shell_hook(config: StoreConfig, args: argparse.Namespace) -> int:
    from carryover.pipeline.capture.shell_hook import run_shell_hook

    sys.stdout.write(run_shell_hook(args.shell, pool_dir=config.pool_dir))
    return 0


def cmd_distill(store: MemoryStore, args: argparse.Namespace) -> int:
    from carryover.pipeline.command import run_distill

    return run_distill(store, redo=args.redo, episode_ids=tuple(args.episode))


def cmd_serve(config: StoreConfig, args: argparse.Namespace) -> int:
    from carryover.lsp.main import run

    forwarded = ["--db", config.location]
    if args.tcp:
        forwarded += ["--tcp", args.tcp]
    if args.log_level:
        forwarded += ["--log-level", args.log_level]
    return run(forwarded)


def cmd_mcp(_config: StoreConfig, args: argparse.Namespace) -> int:
    from carryover.mcp.server import run

    forwarded = ["--db", str(args.db)] if args.db else []
    if args.log_level:
        forwarded += ["--log-level", args.log_level.upper()]
    return run(forwarded)


def cmd_optimize(store: MemoryStore, _args: argparse.Namespace) -> int:
    print(store.maintain(force=True))
    return 0


def cmd_reembed(store: MemoryStore, args: argparse.Namespace) -> int:
    from carryover.pool.embedding.factory import make_embedder

    embedder = make_embedder(store.config.embedder)
    count = store.reembed(embedder, key=args.key)
    print(f"re-embedded {count} memories with {embedder.name} ({store.meta.embed_key} of each memory)")
    print("restart the editors' daemons on this pool: they keep the vectors they read until then")
    return 0


# ----- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carryover", description="A memory for people who write code.")
    parser.add_argument("--db", metavar="PATH", help="pool directory (default: $CARRYOVER_HOME/pool)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument(
        "--no-daemon",
        action="store_true",
        help="run search, show and list in this process, never through a running `carryover serve`",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_write_commands(commands)
    _add_read_commands(commands)
    _add_feedback_commands(commands)
    _add_pool_commands(commands)
    return parser


Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_write_commands(commands: Subcommands) -> None:
    add = commands.add_parser("add", help="add one memory")
    add.add_argument("--kind", choices=KIND_CHOICES, required=True)
    add.add_argument("--title", required=True)
    add.add_argument("--description", default="")
    add.add_argument("--content", default="")
    add.add_argument("--outcome", choices=["success", "failure"], default="success")
    add.add_argument("--language", action="append", default=[], help="repeatable")
    add.add_argument("--tool", action="append", default=[], help="repeatable")
    add.add_argument("--scope", choices=["project", "global", "team"], default="global")
    add.add_argument("--when-not", default="", help="when this memory does not apply")
    add.add_argument("--check-command", default="", help="a validation command the memory suggests")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=cmd_add)

    importing = commands.add_parser("import", help="import memories from a JSONL file")
    importing.add_argument("file")
    importing.add_argument("--json", action="store_true")
    importing.set_defaults(handler=cmd_import)


def _add_read_commands(commands: Subcommands) -> None:
    search = commands.add_parser(
        "search", help="find the memories that apply to a line of code or a message, as the hover does"
    )
    search.add_argument("query", help="the line in question (code, or a message)")
    search.add_argument("--language", help="the editor language of the line (python, typescriptreact, ...)")
    search.add_argument(
        "--diagnostic", action="append", default=[], metavar="MESSAGE", help="a diagnostic on the line"
    )
    search.add_argument("--failed-command", metavar="COMMAND", help="the workspace's last failing command")
    search.add_argument(
        "--output", metavar="TEXT|@FILE|-", help="what the failing command printed (text, a file, or stdin)"
    )
    search.add_argument("--kind", action="append", default=[], choices=KIND_CHOICES)
    search.add_argument("--workspace", help="hide project-scoped memories of other workspaces")
    search.add_argument("--k", type=int, default=3)
    search.add_argument(
        "--min-score", type=float, help="show only memories scoring at least this (0-1; default 0)"
    )
    search.add_argument("--json", action="store_true")
    search.set_defaults(read=True)

    listing = commands.add_parser("list", help="list memories, newest first")
    listing.add_argument("--kind", choices=KIND_CHOICES)
    listing.add_argument("--status", choices=STATUS_CHOICES)
    listing.add_argument("--limit", type=int)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(read=True)

    show = commands.add_parser("show", help="show one memory with its provenance")
    show.add_argument("id", help="an id or a unique prefix of one")
    show.add_argument("--json", action="store_true")
    show.set_defaults(read=True)


def _add_feedback_commands(commands: Subcommands) -> None:
    for name, handler, help_text in (
        ("pin", cmd_pin, "always prefer this memory"),
        ("restore", cmd_restore, "undo a pin or a rejection"),
        ("forget", cmd_forget, "delete a memory for good"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("id")
        sub.set_defaults(handler=handler)

    reject = commands.add_parser("reject", help="never show this memory again")
    reject.add_argument("id")
    reject.add_argument("--reason", default="")
    reject.set_defaults(handler=cmd_reject)

    feedback = commands.add_parser("feedback", help="record whether a memory helped")
    feedback.add_argument("id")
    feedback.add_argument("vote", choices=["helpful", "unhelpful"])
    feedback.set_defaults(handler=cmd_feedback)


def _add_pool_commands(commands: Subcommands) -> None:
    export = commands.add_parser("export", help="write memories to a JSONL file (import reads it back)")
    export.add_argument("file")
    export.add_argument("--kind", choices=KIND_CHOICES)
    export.set_defaults(handler=cmd_export)

    stats = commands.add_parser("stats", help="counts, feedback and how languages mix in the pool")
    stats.add_argument("--json", action="store_true")
    stats.add_argument("--plot", metavar="FILE.png", help="draw a 2-D map of the pool, one panel a kind")
    stats.add_argument("--perplexity", type=float, default=30.0, help="LISI neighbourhood (default 30)")
    stats.set_defaults(handler=cmd_stats)

    reembed = commands.add_parser("reembed", help="re-embed the pool with the configured embedder")
    reembed.add_argument(
        "--key",
        choices=EMBED_KEYS,
        help="what to embed of each memory from now on (default: the pool's own, see `carryover stats`)",
    )
    reembed.set_defaults(handler=cmd_reembed)

    optimize = commands.add_parser("optimize", help="build or refresh the search index and compact the pool")
    optimize.set_defaults(handler=cmd_optimize)

    distill = commands.add_parser("distill", help="distill finished episodes into memories (again)")
    distill.add_argument("--redo", action="store_true", help="re-distill episodes distilled before")
    distill.add_argument("--episode", action="append", default=[], metavar="ID", help="only these")
    distill.set_defaults(handler=cmd_distill)

    hook = commands.add_parser("shell-hook", help="print a snippet that logs a shell's commands for capture")
    hook.add_argument("shell", choices=["bash", "zsh", "fish"])
    hook.set_defaults(config_handler=cmd_shell_hook)

    serve = commands.add_parser("serve", help="run the language server (stdio unless --tcp)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on a TCP port instead of stdio")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(config_handler=cmd_serve)

    mcp = commands.add_parser("mcp", help="serve the pool to coding agents over MCP (stdio)")
    mcp.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    mcp.set_defaults(config_handler=cmd_mcp)


def _open_store(config: StoreConfig) -> MemoryStore:
    from carryover.pool.store import open_store

    return open_store(config)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(db=Path(args.db) if args.db else None)
        config_handler = getattr(args, "config_handler", None)
        if config_handler is not None:
            handled: int = config_handler(config, args)
            return handled
        if getattr(args, "read", False):
            return run_read(config, args)
        store = _open_store(config)
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = TerminalSafeWriter(stdout), TerminalSafeWriter(stderr)
        try:
            result: int = args.handler(store, args)
        finally:
            sys.stdout.flush()
            sys.stdout, sys.stderr = stdout, stderr
        _sync_replica(store)
        return result
    except MemoryNotFound as error:
        print(f"carryover: no memory {error.args[0]}", file=sys.stderr)
        return 1
    except (CommandError, ConfigError, PoolError, PoolBusy, ValueError) as error:
        print(f"carryover: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        if not _is_embedder_error(error):
            raise
        print(f"carryover: error: {error}", file=sys.stderr)
        return 1


def _is_embedder_error(error: Exception) -> bool:
    """An EmbedderError, without importing the embedders (numpy) for commands that never embed: an
    error of that class exists only once its module was imported."""
    base = sys.modules.get("carryover.pool.embedding.base")
    return base is not None and isinstance(error, base.EmbedderError)


if __name__ == "__main__":
    sys.exit(main())

"""``carryover serve``: the language server over stdio (default) or TCP.

    python -m carryover.lsp [--tcp HOST:PORT [--allow-remote]] [--db PATH] [--log-level LEVEL]
                            [--distiller MODULE:NAME]

Logs go to stderr (stdout is the LSP channel). ``run`` returns the process exit status.

TCP listens on a loopback address only (127.0.0.0/8, ::1, localhost) unless ``--allow-remote`` is
given: anyone who can connect can read and change the memory pool, and there is no authentication.
It serves one client after another (each with a fresh server) until interrupted; port 0 picks a free
port, logged at info as "listening on HOST:PORT".
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer
    from carryover.pipeline.runner import AnyDistiller


LOG_LEVELS = ("debug", "info", "warning", "error")


def _address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carryover serve", description="Run the Carryover language server (stdio unless --tcp)."
    )
    parser.add_argument(
        "--tcp", type=_address, metavar="HOST:PORT", help="listen on TCP (loopback only) instead of stdio"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --tcp listen on a non-loopback address (no authentication: anyone who can connect "
        "reads and changes the memory pool)",
    )
    parser.add_argument(
        "--db", type=Path, metavar="PATH", help="the pool directory (default: the configured pool)"
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="warning", help="stderr log level")
    parser.add_argument(
        "--distiller",
        metavar="MODULE:NAME",
        help="the Distiller for 'distill now': an object with distill_pending, or a factory of one "
        "(e.g. carryover.pipeline.distill.offline:OfflineDistiller)",
    )
    return parser


def load_distiller(spec: str) -> AnyDistiller:
    """``MODULE:NAME``: an object with ``distill_episode`` (or, deprecated, ``distill_pending``), or a
    factory of one."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f"--distiller expects MODULE:NAME, got {spec!r}")
    target = getattr(importlib.import_module(module_name), name)
    methods = ("distill_episode", "distill_pending")
    is_instance = any(hasattr(target, method) for method in methods) and not isinstance(target, type)
    distiller = target if is_instance else target()
    if not any(callable(getattr(distiller, method, None)) for method in methods):
        raise ValueError(f"{spec} is not a Distiller (it has no distill_episode method)")
    return distiller  # type: ignore[no-any-return]


def configure_logging(level: str) -> logging.Handler:
    """stderr at ``level``, the only root handler (``carryover serve`` comes through the command line,
    which configured its own). Returns the handler: ``skip_sent_to_client`` is added to it once the
    server is imported (records sent to the client as window/logMessage are not printed again,
    since editors show stderr in the same channel; before the server exists none are sent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level.upper())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # pygls logs every message body at INFO: keep it quiet unless debugging.
    logging.getLogger("pygls").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    return handler


def skip_sent_to_client(handler: logging.Handler) -> None:
    from carryover.lsp.log_bridge import not_sent_to_client

    handler.addFilter(not_sent_to_client)


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (without the program name; None: sys.argv[1:]), serve until the client exits,
    and return the exit status.

    On stdio, ``initialize`` is answered before pygls is imported (early.py); the server is built in
    a thread meanwhile. Nothing heavy is imported on the way: keep it so (tests/test_startup.py)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.tcp and not args.allow_remote and not is_loopback(args.tcp[0]):
        parser.error(
            f"--tcp {args.tcp[0]} is not a loopback address; the server has no authentication, so it "
            "listens on 127.0.0.1, ::1 or localhost only (--allow-remote to override)"
        )
    if args.allow_remote and not args.tcp:
        parser.error("--allow-remote goes with --tcp")
    handler = configure_logging(args.log_level)
    try:
        distiller = load_distiller(args.distiller) if args.distiller else None
    except (ImportError, AttributeError, ValueError, TypeError) as error:
        sys.stderr.write(f"carryover serve: {error}\n")
        return 2

    def make_server() -> CarryoverServer:
        from carryover.lsp.app import ServerOptions, create_server

        return create_server(ServerOptions(db=args.db, distiller=distiller))

    if args.tcp:
        from carryover.lsp.transport import serve_tcp

        skip_sent_to_client(handler)
        host, port = args.tcp
        if args.allow_remote and not is_loopback(host):
            logging.getLogger(__name__).warning("listening on %s: reachable from other machines", host)
        try:
            serve_tcp(make_server, host, port)
        except OSError as error:
            sys.stderr.write(f"carryover serve: cannot listen on {host}:{port}: {error.strerror or error}\n")
            return 1
        return 0
    from carryover.lsp.early import serve_stdio_early

    serve_stdio_early(make_server, on_built=lambda: skip_sent_to_client(handler))
    return 0

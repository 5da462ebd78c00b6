"""``carryover serve``: the language server over stdio (default) or TCP.

    python -m server [--tcp HOST:PORT] [--db PATH] [--log-level LEVEL] [--distiller MODULE:NAME]

Logs go to stderr (stdout is the LSP channel). ``run`` returns the process exit status.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carryover.pipeline.distill.base import Distiller


LOG_LEVELS = ("debug", "info", "warning", "error")


def _address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carryover serve", description="Run the Carryover language server (stdio unless --tcp)."
    )
    parser.add_argument("--tcp", type=_address, metavar="HOST:PORT", help="listen on TCP instead of stdio")
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


def load_distiller(spec: str) -> Distiller:
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f"--distiller expects MODULE:NAME, got {spec!r}")
    target = getattr(importlib.import_module(module_name), name)
    distiller = target if hasattr(target, "distill_pending") and not isinstance(target, type) else target()
    if not callable(getattr(distiller, "distill_pending", None)):
        raise ValueError(f"{spec} is not a Distiller (it has no distill_pending method)")
    return distiller  # type: ignore[no-any-return]


def configure_logging(level: str) -> None:
    """stderr at ``level``, the only root handler (``carryover serve`` comes through the command line,
    which configured its own); records already sent to the client as window/logMessage are not
    printed again, since editors show stderr in the same channel."""
    from carryover.lsp.log_bridge import not_sent_to_client

    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level.upper())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(not_sent_to_client)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # pygls logs every message body at INFO: keep it quiet unless debugging.
    logging.getLogger("pygls").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (without the program name; None: sys.argv[1:]), serve until the client exits,
    and return the exit status."""
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    from carryover.lsp.app import ServerOptions, create_server

    try:
        distiller = load_distiller(args.distiller) if args.distiller else None
    except (ImportError, AttributeError, ValueError, TypeError) as error:
        sys.stderr.write(f"carryover serve: {error}\n")
        return 2
    server = create_server(ServerOptions(db=args.db, distiller=distiller))
    if args.tcp:
        host, port = args.tcp
        server.start_tcp(host, port)
    else:
        server.start_io()
    return 0

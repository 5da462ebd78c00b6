"""Packages whose ``__init__`` is run only when something asks for a name defined in it.

``import lancedb`` imports ``lance_namespace``, which imports the models of its generated REST client,
``lance_namespace_urllib3_client.models``. Importing that submodule first runs the package's
``__init__``, and that imports every API class of the client, each built through pydantic's
``validate_call``: 0.4-0.6 s of a cold ``carryover search``, for a client that a pool on disk or on
object storage never uses. Deferring the package's ``__init__`` keeps its submodules importable as
usual (``__path__`` is set), and the first lookup of a name on the package itself runs the
``__init__`` after all, so nothing that uses the client breaks.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from types import ModuleType

logger = logging.getLogger(__name__)

DEFERRED = ("lance_namespace_urllib3_client",)


def defer_package_init(name: str) -> bool:
    """Register ``name`` (a package not imported yet) with its ``__init__`` deferred; False when it
    is imported already, missing, or not a package."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return False
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def load_on_first_lookup(attribute: str) -> object:
        if not attribute.startswith("__") and _is_submodule(f"{name}.{attribute}"):
            return importlib.import_module(f"{name}.{attribute}")  # ``from package import sub``
        del module.__dict__["__getattr__"]
        logger.debug("running the deferred __init__ of %s (asked for %s)", name, attribute)
        loader.exec_module(module)
        return ModuleType.__getattribute__(module, attribute)

    module.__dict__["__getattr__"] = load_on_first_lookup
    sys.modules[name] = module
    return True


def _is_submodule(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def defer_all() -> None:
    for name in DEFERRED:
        defer_package_init(name)

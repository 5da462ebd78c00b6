"""Importing lancedb without the REST namespace client a pool never uses.

``import lancedb`` imports ``lance_namespace``, which re-exports the request and response models of
``lance_namespace_urllib3_client``. Importing that package's ``models`` first runs the package's own
``__init__``, and that imports the whole generated REST client too: nine ``*_api`` modules (classes
whose every method is wrapped by pydantic's ``validate_call``), ``ApiClient``, ``Configuration`` and
urllib3 (measured: about half of ``import lancedb``). A local pool, and an object-storage pool
reached through lancedb's own connection, never call that client; lancedb's REST namespace
(``lancedb.namespace``) reads only the models.

:func:`defer_package_init` puts the package in ``sys.modules`` uninitialised, so its subpackages
(``models``) import as usual while its ``__init__`` waits until something asks the package itself
for a name (``from lance_namespace_urllib3_client import ApiClient``, ``package.TableApi``): then it
runs once, in the same module object, and the answer is what the plain import would have given.
Nothing in lancedb is patched. When the package is not laid out as expected (no ``models``
subpackage, already imported, not a package), nothing is deferred, the plain import happens, and
the reason is logged at debug. ``tests/test_lance_import.py`` fails if an upgrade makes the cut
stop happening or breaks the table API under it.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import types
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REST_CLIENT_PACKAGE = "lance_namespace_urllib3_client"
"""The generated REST client whose ``__init__`` imports every API class and urllib3."""
NEEDED_SUBPACKAGE = "models"
"""What ``lance_namespace`` (and so ``import lancedb``) imports from it."""


class _DeferredPackage(types.ModuleType):
    """A package whose ``__init__`` runs on the first name asked of it that it does not yet have.

    Submodules imported meanwhile are bound on it as usual (``package.models``); those are found
    without running ``__init__``.
    """

    _deferred_lock = threading.RLock()
    _deferred_running = False

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
        cls = _DeferredPackage
        with cls._deferred_lock:
            if type(self) is _DeferredPackage and not cls._deferred_running:
                _run_init(self)
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}") from None


def _run_init(module: types.ModuleType) -> None:
    """Run the package's real ``__init__`` in ``module`` itself (so every reference stays valid)."""
    spec = module.__spec__
    assert spec is not None and spec.loader is not None
    logger.debug("%s: running the deferred package __init__", module.__name__)
    _DeferredPackage._deferred_running = True
    try:
        spec.loader.exec_module(module)
    finally:
        _DeferredPackage._deferred_running = False
        module.__class__ = types.ModuleType  # from now on an ordinary module


def defer_package_init(name: str, needed: str) -> bool:
    """Put package ``name`` in ``sys.modules`` without running its ``__init__`` yet.

    ``needed`` is the subpackage expected to be imported from it meanwhile; if the package does not
    hold it, nothing is deferred. True when the deferral is in place (or already was).
    """
    present = sys.modules.get(name)
    if present is not None:
        deferred = isinstance(present, _DeferredPackage)
        if not deferred:
            logger.debug("%s is already imported: nothing to defer", name)
        return deferred
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as error:
        logger.debug("%s: not deferred (%s)", name, error)
        return False
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        logger.debug("%s: not deferred (not an importable package)", name)
        return False
    if not hasattr(spec.loader, "exec_module"):
        logger.debug("%s: not deferred (its loader cannot run it later)", name)
        return False
    if not any((Path(place) / needed / "__init__.py").is_file() for place in spec.submodule_search_locations):
        logger.debug("%s: not deferred (no %s subpackage)", name, needed)
        return False
    try:
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _DeferredPackage
    except (ImportError, TypeError, AttributeError) as error:
        logger.debug("%s: not deferred (%s)", name, error)
        return False
    sys.modules[name] = module
    logger.debug("%s: __init__ deferred until a name is asked of it", name)
    return True


def prepare_lancedb_import() -> bool:
    """Call before the first ``import lancedb``: defers the REST namespace client's ``__init__``.

    Cheap (one ``find_spec``), idempotent, and never fails: when the deferral cannot be set up the
    import is simply the plain one. True when the deferral is in place.
    """
    return defer_package_init(REST_CLIENT_PACKAGE, NEEDED_SUBPACKAGE)

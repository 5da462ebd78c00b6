"""A package's __init__ deferred until a name on it is asked for; its submodules import as usual."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from carryover.pool.deferred import defer_package_init


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    root = tmp_path / "deferred_probe"
    root.mkdir()
    (root / "__init__.py").write_text("import sys\nsys.deferred_probe_ran = True\nGREETING = 'hello'\n")
    (root / "models.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "deferred_probe"
    for name in [name for name in sys.modules if name.startswith("deferred_probe")]:
        del sys.modules[name]
    if hasattr(sys, "deferred_probe_ran"):
        delattr(sys, "deferred_probe_ran")


def test_a_submodule_imports_without_running_the_package_init(package: str) -> None:
    assert defer_package_init(package)
    from deferred_probe import models  # type: ignore[import-not-found]

    assert models.VALUE == 42
    assert not hasattr(sys, "deferred_probe_ran")


def test_a_name_asked_of_the_package_runs_its_init_once(package: str) -> None:
    assert defer_package_init(package)
    import deferred_probe

    assert deferred_probe.GREETING == "hello"
    assert sys.deferred_probe_ran  # type: ignore[attr-defined]
    assert "__getattr__" not in vars(deferred_probe)
    with pytest.raises(AttributeError):
        _ = deferred_probe.MISSING


def test_an_imported_or_missing_package_is_left_alone(package: str) -> None:
    assert not defer_package_init("carryover")
    assert not defer_package_init("no_such_package_here")
    assert not defer_package_init("json.decoder")  # a module, not a package


def test_opening_the_storage_layer_skips_the_rest_client_and_still_offers_it() -> None:
    script = textwrap.dedent(
        """
        import sys
        import carryover.pool.store
        print(any(name.startswith("lance_namespace_urllib3_client.api") for name in sys.modules))
        from lance_namespace_urllib3_client import ApiClient
        print(ApiClient.__name__)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "ApiClient"]

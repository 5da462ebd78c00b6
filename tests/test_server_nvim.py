"""Neovim (headless, Debian's 0.7 is enough) as a real LSP client: a hover from the server over a
seeded pool, as the raw reply and as the floating window the user sees. Skipped when nvim is not
installed (``apt-get install -y neovim``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_server_support import ROOT, seeded_pool, server_env

NVIM = shutil.which("nvim")
SCRIPT = ROOT / "tests" / "nvim" / "hover_e2e.lua"


@pytest.mark.skipif(NVIM is None, reason="nvim is not installed (apt-get install -y neovim)")
def test_neovim_gets_a_hover(tmp_path: Path) -> None:
    assert NVIM is not None
    pool = seeded_pool(tmp_path)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    source = workspace / "load.py"
    source.write_text(
        'def load(config):\n    value = config.get("key")["inner"]\n\nx = 1\n', encoding="utf-8"
    )
    env = server_env(tmp_path / "home", PY=sys.executable, POOL=str(pool), REPO=str(ROOT), FILE=str(source))
    env["XDG_STATE_HOME"] = env["XDG_DATA_HOME"] = env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    done = subprocess.run(
        [NVIM, "--headless", "--clean", "-n", "-c", f"luafile {SCRIPT}"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = done.stdout + done.stderr
    print(output)
    assert "RESULT: PASS" in output, output
    assert "HOVER_FLOAT:" in output and "learned in Rust" in output
    assert done.returncode == 0, output
    assert os.path.isdir(pool)

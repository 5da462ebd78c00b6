"""A full disk, a read-only file system and a file-size limit through the real CLI
(``python -m carryover --db POOL add ...``): one plain line naming the pool and what to do, never
Rust source paths, LanceDB internals or a traceback; every memory acknowledged before is still there.

The full disk is a real 2 MB tmpfs (mounting needs root, as on CI; skipped elsewhere); the file-size
limit (RLIMIT_FSIZE, ``ulimit -f``) needs no privilege.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import resource
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = (".rs:", ".cargo", "lance::", "LanceError", "lance error", "Traceback", "os error")


def env(home: Path) -> dict[str, str]:
    environ = {**os.environ, "CARRYOVER_HOME": str(home), "PYTHONPATH": str(ROOT)}
    environ.pop("CARRYOVER_EMBEDDER", None)
    return environ


def cli(
    pool: Path, home: Path, *args: str, fsize: int | None = None, nofile: int | None = None
) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    return subprocess.run(
        [sys.executable, "-m", "carryover", "--db", str(pool), *args],
        capture_output=True,
        text=True,
        env=env(home),
        timeout=120,
        preexec_fn=limit if fsize is not None or nofile is not None else None,
        check=False,
    )


def words(count: int, seed: int) -> str:
    """Text that does not compress much (so it fills a disk) and redaction leaves alone."""
    chooser = random.Random(seed)
    return " ".join("".join(chooser.choices(string.ascii_lowercase, k=7)) for _ in range(count))


def add(
    pool: Path, home: Path, number: int, size: int = 6_000, **kwargs: int
) -> subprocess.CompletedProcess[str]:
    return cli(
        pool,
        home,
        "add",
        "--kind",
        "insight",
        "--title",
        f"Lesson number {number} about retries",
        "--content",
        words(size, number),
        "--json",
        **kwargs,
    )


def listed(pool: Path, home: Path) -> set[str]:
    done = cli(pool, home, "list", "--json")
    assert done.returncode == 0, done.stderr
    return {memory["id"] for memory in json.loads(done.stdout)}


def assert_plain(stderr: str, pool: Path, says: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"carryover: error: the pool at {pool} could not be "), stderr
    assert says in lines[0], stderr
    assert not any(word.lower() in stderr.lower() for word in FORBIDDEN), stderr
    assert len(lines[0]) < 400


@contextlib.contextmanager
def tiny_disk(directory: Path, size: str = "2m") -> Iterator[Path]:
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path, leave: int) -> Path:
    """Fill the file system of ``directory`` to the last byte, then give back ``leave`` bytes."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65_536)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    with contextlib.suppress(OSError):
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_full_disk_ends_in_one_plain_line_and_loses_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with tiny_disk(tmp_path / "disk") as disk:
        pool = disk / "pool"
        first = add(pool, home, 0, size=50)
        assert first.returncode == 0, first.stderr
        acknowledged = {json.loads(first.stdout)["id"]}
        filler = fill(disk, leave=320 * 1024)
        failure = None
        for number in range(1, 25):  # memories of ~48 KB each until the disk refuses one
            done = add(pool, home, number)
            if done.returncode != 0:
                failure = done
                break
            acknowledged.add(json.loads(done.stdout)["id"])
        assert failure is not None, "the disk never filled"
        assert_plain(failure.stderr, pool, "could not be written: the disk it is on is full")
        assert (
            "free some space" in failure.stderr and "memories already in the pool are kept" in failure.stderr
        )
        assert len(acknowledged) >= 2
        assert acknowledged <= listed(pool, home)  # read back on the full disk: nothing acknowledged lost
        filler.unlink()
        again = add(pool, home, 99, size=50)
        assert again.returncode == 0, again.stderr
        assert acknowledged | {json.loads(again.stdout)["id"]} <= listed(pool, home)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_read_only_file_system_ends_in_one_plain_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with tiny_disk(tmp_path / "disk") as disk:
        pool = disk / "pool"
        first = add(pool, home, 0, size=50)
        assert first.returncode == 0, first.stderr
        remount = ["mount", "-o", "remount,ro", str(disk)]
        remounted = subprocess.run(remount, capture_output=True, text=True, check=False)
        assert remounted.returncode == 0, remounted.stderr
        try:
            refused = add(pool, home, 1, size=50)
            assert refused.returncode == 1
            assert_plain(refused.stderr, pool, "it is on a read-only file system")
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=False)
        assert listed(pool, home) == {json.loads(first.stdout)["id"]}


def test_a_file_size_limit_ends_in_one_plain_line(tmp_path: Path) -> None:
    pool, home = tmp_path / "pool", tmp_path / "home"
    first = add(pool, home, 0, size=50)
    assert first.returncode == 0, first.stderr
    refused = add(pool, home, 1, size=12_000, fsize=32 * 1024)  # ~96 KB of content, files capped at 32 KB
    assert refused.returncode == 1
    assert_plain(refused.stderr, pool, "a file grew past the size limit for this process (ulimit -f)")
    assert listed(pool, home) == {json.loads(first.stdout)["id"]}
    again = add(pool, home, 2, size=50)
    assert again.returncode == 0, again.stderr


def test_too_many_open_files_ends_in_one_plain_line(tmp_path: Path) -> None:
    """Under a low RLIMIT_NOFILE the add fails while writing (or succeeds): never a traceback. (Below
    about 14 descriptors the store fails while opening the pool, outside the storage layer.)"""
    pool, home = tmp_path / "pool", tmp_path / "home"
    assert add(pool, home, 0, size=50).returncode == 0
    refused = 0
    for number, descriptors in enumerate((16, 20, 24, 32, 48), start=1):
        done = add(pool, home, number, size=50, nofile=descriptors)
        if done.returncode != 0:
            refused += 1
            assert_plain(done.stderr.splitlines()[-1], pool, "this process has too many open files")
            assert "Traceback" not in done.stderr
    assert refused >= 1

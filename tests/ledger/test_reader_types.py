"""Read-only misuse is a type error: ``Ledger.open(path, readonly=True)`` is a ``LedgerReader``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chatsnapshot.ledger import Ledger, LedgerReader

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("proto", "ledger", "receiver", "exporter", "instrumentation")


def test_a_read_only_open_is_a_reader_without_writing_verbs(tmp_path: Path) -> None:
    Ledger.open(tmp_path).close()
    with Ledger.open(tmp_path, readonly=True) as reader:
        assert type(reader) is LedgerReader and reader.readonly
        assert not hasattr(reader, "append") and not hasattr(reader, "compact")


def test_the_type_checker_refuses_an_append_to_a_reader(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    package = tmp_path / "tree" / "chatsnapshot"  # the package as installed, from symlinks (as make typecheck does)
    package.mkdir(parents=True)
    for item in (ROOT / "chatsnapshot").iterdir():
        if item.name != "__pycache__":
            (package / item.name).symlink_to(item)
    for role in ROLES:
        (package / role).symlink_to(ROOT / role)
    program = tmp_path / "misuse.py"
    program.write_text(textwrap.dedent("""
        from chatsnapshot.ledger import Ledger

        writer = Ledger.open("x")
        writer.append([])
        reader = Ledger.open("x", readonly=True)
        reader.append([])
    """))
    env = {**os.environ, "MYPYPATH": str(tmp_path / "tree")}
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "--cache-dir", str(tmp_path / "cache"), "--follow-imports", "silent", str(program)],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, done.stdout + done.stderr
    assert 'misuse.py:7: error: "LedgerReader" has no attribute "append"' in errors[0]

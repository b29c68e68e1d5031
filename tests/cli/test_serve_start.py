"""A start that fails (a port in use) is one line naming the address, exit 2, and leaves nothing
behind: no new ledger directory; an existing one stays as it was."""

from __future__ import annotations

import socket

import pytest

from tests.cli.test_cli import run_cli


@pytest.fixture
def taken():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_a_port_in_use_is_one_line_exit_2_and_creates_nothing(tmp_path, taken, transport):
    flags = (["--grpc", f"127.0.0.1:{taken}", "--http", "off"] if transport == "grpc"
             else ["--grpc", "127.0.0.1:0", "--http", f"127.0.0.1:{taken}"])
    done = run_cli("--ledger", str(tmp_path / "new"), "serve", "--workers", "0", *flags)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and f"127.0.0.1:{taken}" in done.stderr and f"--{transport}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "new").exists()


def test_an_existing_ledger_is_kept_when_the_start_fails(tmp_path, taken):
    assert run_cli("--ledger", str(tmp_path / "old"), "append", "-", stdin='{"event_type": "system.task_scheduled", '
                   '"correlation_id": "kept"}\n').returncode == 0
    done = run_cli("--ledger", str(tmp_path / "old"), "serve", "--workers", "0", "--grpc", f"127.0.0.1:{taken}",
                   "--http", "off")
    assert done.returncode == 2
    assert "kept" in run_cli("--ledger", str(tmp_path / "old"), "runs").stdout

"""Receiver settings: flag > CHATSNAPSHOT_* variable > default; errors say what to change."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from chatsnapshot.receiver.settings import Settings

NO_FLAGS: dict = {}


def test_a_flag_beats_the_environment_which_beats_the_default(tmp_path):
    env = {"CHATSNAPSHOT_GRPC": "0.0.0.0:5317", "CHATSNAPSHOT_HTTP": "off", "CHATSNAPSHOT_MAX_PENDING": "10",
           "CHATSNAPSHOT_LEDGER": str(tmp_path / "from-env"), "CHATSNAPSHOT_PROMOTE_SPANS": "on",
           "CHATSNAPSHOT_WORKERS": "0"}
    s = Settings.resolve({"grpc": "127.0.0.1:6317", "ledger": None}, env)
    assert s.grpc == ("127.0.0.1", 6317)  # flag
    assert s.http is None and s.max_pending == 10 and s.promote_spans  # environment
    assert s.ledger == str(tmp_path / "from-env") and s.workers == 0
    assert s.max_request_bytes == 64 << 20  # default
    defaults = Settings.resolve(NO_FLAGS, {})
    assert (defaults.grpc, defaults.http, defaults.tokens) == (("127.0.0.1", 4317), ("127.0.0.1", 4318), ())


def test_tokens_come_from_a_file_or_the_environment_and_are_never_shown(tmp_path):
    token_file = tmp_path / "tokens"
    token_file.write_text("old-secret\nnew-secret\n")
    s = Settings.resolve({"token_file": str(token_file)}, {"CHATSNAPSHOT_TOKENS": "ignored"})
    assert s.tokens == ("old-secret", "new-secret")
    assert "secret" not in repr(s)
    assert Settings.resolve(NO_FLAGS, {"CHATSNAPSHOT_TOKENS": "a, b"}).tokens == ("a", "b")


@pytest.mark.parametrize(("flags", "env", "message"), [
    ({"grpc": "localhost"}, {}, "--grpc / CHATSNAPSHOT_GRPC: expected HOST:PORT or 'off'"),
    ({}, {"CHATSNAPSHOT_MAX_PENDING": "lots"}, "CHATSNAPSHOT_MAX_PENDING: expected a whole number"),
    ({"grpc": "off", "http": "off"}, {}, "the receiver would listen nowhere"),
    ({"tls_cert": "c.pem"}, {}, "TLS needs both --tls-cert and --tls-key"),
    ({"workers": "-1"}, {}, "--workers / CHATSNAPSHOT_WORKERS: must be at least 0"),
    ({"token_file": "/nonexistent/tokens"}, {}, "cannot read the token file /nonexistent/tokens"),
])
def test_bad_settings_name_what_to_change(flags, env, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings.resolve(flags, env)


def test_serve_with_a_bad_flag_is_one_line_and_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(tmp_path), "serve",
                          "--grpc", "nonsense"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "chatsnapshot: error: --grpc / CHATSNAPSHOT_GRPC: expected HOST:PORT or 'off', got 'nonsense'"]

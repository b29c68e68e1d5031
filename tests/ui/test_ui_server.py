"""``chatsnapshot ui`` as a server: tokens (header and login cookie), the page's security headers,
start-up mistakes in one line, and docs/ui.md's legend held to the code."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

from chatsnapshot.ui.runview import LEGEND
from tests.helpers import ROOT, free_port
from tests.ui.conftest import UiProcess


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_with_tokens_every_route_but_login_asks_for_one(tmp_path):
    from chatsnapshot.ledger import Ledger
    from tests.helpers import make_facts

    with Ledger.open(tmp_path / "ledger") as ledger:
        ledger.append(make_facts(6, correlations=2))
    (tmp_path / "tokens").write_text("s3cret-token\n")
    ui = UiProcess(["--ledger", str(tmp_path / "ledger"), "ui", "--token-file", str(tmp_path / "tokens")])
    try:
        status, _, body = get(f"{ui.url}/api/runs")
        assert status == 401 and b"log in" in body
        status, headers, _ = get(f"{ui.url}/")
        assert status == 303 and headers["location"] == "/login"
        status, headers, body = get(f"{ui.url}/api/runs", {"Authorization": "Bearer s3cret-token"})
        assert status == 200 and json.loads(body)["total"] == 2
        assert "default-src 'self'" in headers["content-security-policy"]
        opener = urllib.request.build_opener(NoRedirect)
        for token, where in (("wrong", "/login?wrong=1"), ("s3cret-token", "/")):
            form = urllib.parse.urlencode({"token": token}).encode()
            try:
                opener.open(urllib.request.Request(f"{ui.url}/login", data=form), timeout=30)
            except urllib.error.HTTPError as e:
                assert e.code == 303 and e.headers["location"] == where
                cookie = e.headers.get("set-cookie")
        assert cookie is not None and "HttpOnly" in cookie and "SameSite=strict" in cookie
        status, _, body = get(f"{ui.url}/api/info", {"Cookie": cookie.split(";")[0]})
        assert status == 200 and json.loads(body)["runs"] == 2
        status, _, _ = get(f"{ui.url}/static/app.js")
        assert status == 200  # the page's own code needs no token (it holds no data)
        bearer = {"Authorization": "Bearer s3cret-token"}
        status, _, _ = get(f"{ui.url}/api/runs", {**bearer, "Host": f"rebound.example:{ui.port}"})
        assert status == 421  # a name rebound to this address by someone else's page
        status, _, _ = get(f"{ui.url}/api/sql?q=SELECT%201", {**bearer, "Sec-Fetch-Site": "cross-site"})
        assert status == 403  # another site's page asking on the user's behalf
    finally:
        ui.stop()


def ui_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_start_up_mistakes_are_one_line_and_exit_2(tmp_path):
    from chatsnapshot.ledger import Ledger

    Ledger.open(tmp_path / "ledger").close()
    port = free_port()
    done = ui_cli("--ledger", str(tmp_path / "ledger"), "ui", "--listen", f"0.0.0.0:{port}")
    assert done.returncode == 2 and "--token-file" in done.stderr and done.stderr.count("\n") == 1
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = ui_cli("--ledger", str(tmp_path / "ledger"), "ui", "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 2 and f"127.0.0.1:{port}" in done.stderr and done.stderr.count("\n") == 1
    done = ui_cli("--ledger", str(tmp_path / "nowhere"), "ui", "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 2 and "nowhere" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "nowhere").exists()


def test_the_legend_in_docs_is_the_one_the_page_draws():
    page = (ROOT / "docs" / "ui.md").read_text()
    rows = re.findall(r"^\| ([a-zA-Z ]+) \| (\S+) \| ([^|]+) \|$", page, re.MULTILINE)
    documented = {label: (symbol, tuple(t.strip() for t in types.split(","))) for label, symbol, types in rows
                  if label not in ("kind",)}
    icons = dict(re.findall(r'(\w+): "([^"]+)"', (ROOT / "ui" / "static" / "dom.js").read_text().split(
        "export const ICON = {")[1].split("};")[0]))
    expected = {label: (icons[kind], types or ("any other type",)) for kind, (label, types, _) in LEGEND.items()}
    assert documented == expected


def test_over_an_empty_receiver_the_ui_starts_at_once(tmp_path):
    import time

    from tests.receiver.conftest import start_receiver

    receiver = start_receiver(tmp_path / "ledger", http=None)
    started = time.monotonic()
    ui = UiProcess(["ui", "--server", f"127.0.0.1:{receiver.grpc_port}"])
    try:
        assert time.monotonic() - started < 15  # Tail is quiet: nothing to wait for
        status, _, body = get(f"{ui.url}/api/runs")
        assert status == 200 and json.loads(body)["runs"] == 0
    finally:
        ui.stop()
        receiver.stop(grace=1)

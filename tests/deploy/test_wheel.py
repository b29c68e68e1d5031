"""The distribution a container (deploy/Dockerfile) or a user installs: ``python -m build`` makes
a wheel from the tracked files, a fresh venv installs it from the package index, and the
installed ``chatsnapshot`` runs: ``--version``, and ``serve`` (with its packaged span rules)
answers ``/readyz``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request

from tests.helpers import ROOT, free_port


def test_the_wheel_installs_into_a_fresh_venv_and_serves(tmp_path):
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():  # a tracked file deleted in the work tree is not built
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(source)],
                   check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("chatsnapshot-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True)
    cli = venv / "bin" / "chatsnapshot"
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "chatsnapshot 0.1.0"

    http = free_port()
    serve = subprocess.Popen([str(cli), "--ledger", str(tmp_path / "ledger"), "serve", "--grpc",
                              f"127.0.0.1:{free_port()}", "--http", f"127.0.0.1:{http}", "--promote-spans"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and status != 200:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=2).status
            except OSError:
                assert serve.poll() is None, serve.stderr.read() if serve.stderr else ""
                time.sleep(0.2)
        assert status == 200
    finally:
        serve.terminate()
        assert serve.wait(timeout=60) == 0

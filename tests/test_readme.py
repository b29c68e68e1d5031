"""The README's Python blocks run, in order, in one namespace: the docs cannot rot."""

from __future__ import annotations

import re

from tests.helpers import ROOT


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert "1 system.workflow_started" in capsys.readouterr().out


def test_readme_mentions_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text

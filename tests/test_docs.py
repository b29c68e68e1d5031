"""The text is true: code in the docs runs, links resolve inside the repository, every
module or file a docstring or a page names exists, and the on-disk diagram is one."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.test_imports import _modules

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# The order the pages' Python blocks run in, in one namespace (later pages use what earlier ones made).
RUN_ORDER = ["README.md", "recording.md", "cli.md", "format.md"]


def _blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def test_the_pages_python_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    ran = 0
    for name in RUN_ORDER:
        page = next(p for p in PAGES if p.name == name)
        for block in _blocks(page):
            exec(compile(block, str(page.relative_to(ROOT)), "exec"), namespace)
            ran += 1
    assert ran >= 5
    assert "1 system.workflow_started" in capsys.readouterr().out
    untested = [p.name for p in PAGES if _blocks(p) and p.name not in RUN_ORDER]
    assert untested == [], f"add these pages to RUN_ORDER: {untested}"


SCREENSHOTS = ROOT / "build" / "screenshots"


def _screenshots_taken() -> set[str]:
    """The screenshots the browser tests write (``watched.shot("x")`` -> ui-x.png, and the run page)."""
    names = {"run-page.png"}
    for test in (ROOT / "tests" / "ui").glob("test_*.py"):
        names |= {f"ui-{n}.png" for n in re.findall(r'\.shot\("([\w-]+)"\)', test.read_text())}
    return names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_resolve_inside_the_repository(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        path = target.split("#", 1)[0]
        if "://" in target or target.startswith("mailto:"):
            bad.append(f"{target}: points outside the repository")
            continue
        resolved = (page.parent / path).resolve()
        if not resolved.is_relative_to(ROOT):
            bad.append(f"{target}: points outside the repository")
        elif resolved.is_relative_to(SCREENSHOTS):  # made by the browser tests, later in the same run
            if resolved.name not in _screenshots_taken():
                bad.append(f"{target}: no browser test takes this screenshot")
        elif path and not resolved.exists():
            bad.append(f"{target}: no such file")
    assert bad == []


_FILE = re.compile(r"`((?:chatsnapshot|proto|ledger|receiver|exporter|instrumentation|tests|deploy|bench|demo|docs)"
                   r"/[\w./-]+\.(?:py|proto|yaml|md|toml))`")
_DOTTED = re.compile(r"``?((?:chatsnapshot\.)?(?:proto|ledger|receiver|exporter|instrumentation|cli)"
                     r"(?:\.\w+)+)``?")


def _resolves(dotted: str) -> bool:
    name = dotted if dotted.startswith("chatsnapshot.") else f"chatsnapshot.{dotted}"
    parts = name.split(".")
    for cut in range(len(parts), 1, -1):
        module = ".".join(parts[:cut])
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            continue
        obj: object = importlib.import_module(module)
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _texts() -> list[tuple[str, str]]:
    texts = [(str(p.relative_to(ROOT)), p.read_text()) for p in PAGES]
    for name, path in _modules().items():
        if not name.startswith("chatsnapshot.instrumentation.autogen"):  # AG2 0.x is not importable here
            texts.append((str(path.relative_to(ROOT)), path.read_text()))
    return texts


def test_named_files_and_modules_exist() -> None:
    missing = []
    for where, text in _texts():
        for path in _FILE.findall(text):
            if not (ROOT / path).exists() and not (ROOT / "proto" / path).exists():  # .proto import paths
                missing.append(f"{where}: {path}")
        for dotted in _DOTTED.findall(text):
            if dotted.split(".")[-1] in ("py", "proto", "md", "toml", "yaml", "json", "jsonl", "parquet", "wal"):
                continue  # a file name, checked above
            if not _resolves(dotted):
                missing.append(f"{where}: {dotted}")
    assert missing == [], "named but not there:\n" + "\n".join(missing)


def test_one_on_disk_diagram() -> None:
    doc = (ROOT / "ledger/_engine/layout.py").read_text().split('"""')[1]
    diagram = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    diagram = "\n".join(line[4:] for line in diagram.splitlines())
    page = (ROOT / "docs/format.md").read_text()
    assert f"```\n{diagram}\n" in page, "docs/format.md must show ledger/_engine/layout.py's diagram as it is"
    others = [p.name for p in PAGES if p.name != "format.md" and "├── MANIFEST" in p.read_text()]
    others += [str(path.relative_to(ROOT)) for path in _modules().values()
               if "├── MANIFEST" in path.read_text() and path.name != "layout.py"]
    assert others == [], f"a second on-disk diagram: {others}"


def test_readme_mentions_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text


def test_the_command_table_of_docs_cli_matches_the_parsers() -> None:
    """Every subcommand has its row in docs/cli.md; every flag a row names exists, and every
    ``--format a|b`` there is exactly what the command accepts."""
    import argparse
    import re

    from chatsnapshot.cli.main import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    page = (ROOT / "docs" / "cli.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `chatsnapshot ([a-z-]+)([^`]*)`", page, re.MULTILINE)}
    assert set(commands) <= set(rows), sorted(set(commands) - set(rows))
    for name, synopsis in rows.items():
        options = {s for a in commands[name]._actions for s in a.option_strings}
        for flag in re.findall(r"(--[a-z-]+)", synopsis):
            assert flag in options, f"docs/cli.md names {name} {flag}, which --help does not have"
        documented = re.search(r"--format ([a-z|\\]+)", synopsis)
        action = next((a for a in commands[name]._actions if a.dest == "format"), None)
        if documented is not None or action is not None:
            assert documented is not None and action is not None, name
            assert documented.group(1).replace("\\", "").split("|") == action.metavar.strip("{}").split(","), name


def test_every_command_line_the_readme_shows_parses_as_written() -> None:
    """The README's shell lines and inline commands use commands and flags the parser has."""
    import re
    import shlex

    from chatsnapshot.cli.main import build_parser

    text = (ROOT / "README.md").read_text()
    shell = re.findall(r"^(?:\.venv/bin/)?chatsnapshot ([^`\n#]+)", text, re.MULTILINE)  # shell blocks
    inline = re.findall(r"`(?:\.venv/bin/)?chatsnapshot ([^`]+)`", text)  # `chatsnapshot serve --promote-spans`
    lines = shell + inline
    assert len(lines) >= 3
    parser = build_parser()
    for line in lines:
        words = [w if w not in ("RUN", "ID") else "some-run" for w in shlex.split(line.strip())]
        try:
            parser.parse_args(words)
        except SystemExit as e:  # 0: --help, which printed the help
            if e.code != 0:
                raise AssertionError(f"README: chatsnapshot {line.strip()!r} does not parse") from e

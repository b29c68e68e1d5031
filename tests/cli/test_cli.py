"""The command line: every subcommand, formats, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chatsnapshot.cli.main import main
from tests.helpers import ROOT, page_data


def run_cli(*args, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=120, env={**os.environ, **(env or {})})


FACTS = "\n".join(json.dumps(f) for f in [
    {"event_id": "0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70", "event_type": "system.workflow_started",
     "correlation_id": "wf-1", "payload": {"name": "nightly"}},
    {"event_type": "system.task_scheduled", "correlation_id": "wf-1", "payload": {"task": "fetch"},
     "causation_id": "0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70"},
    {"event_type": "ui.input_received", "correlation_id": "wf-2", "payload": {"text": "hi"},
     "source": {"origin": "ui", "runtime": "none"}},
]) + "\n"


@pytest.fixture
def ledger(tmp_path):
    path = tmp_path / "ledger"
    assert main(["--ledger", str(path), "append", _write(tmp_path, FACTS)]) == 0
    return path


def _write(tmp_path, text):
    f = tmp_path / "facts.jsonl"
    f.write_text(text)
    return str(f)


def test_append_then_replay_runs_sql_verify(ledger, capsys):
    capsys.readouterr()
    assert main(["replay", "wf-1", "--ledger", str(ledger)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["seq", "occurred_at", "type", "agent", "cause", "says"]
    assert [line.split()[2] for line in out[1:]] == ["system.workflow_started", "system.task_scheduled"]
    assert main(["--ledger", str(ledger), "replay", "wf-1", "--format", "jsonl", "--after-seq", "1"]) == 0
    (doc,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert doc["seq"] == 2 and doc["causation_id"] == "0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70"
    assert main(["--ledger", str(ledger), "replay", "wf-1", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["--ledger", str(ledger), "runs", "--format", "jsonl"]) == 0
    runs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["correlation_id"]: r["envelopes"] for r in runs} == {"wf-1": 2, "wf-2": 1}
    assert main(["--ledger", str(ledger), "sql", "SELECT correlation_id, count(*) AS n FROM envelopes "
                 "GROUP BY 1 ORDER BY 1", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["correlation_id,n", "wf-1,2", "wf-2,1"]
    assert main(["--ledger", str(ledger), "verify"]) == 0
    assert "3 envelopes in 2 correlations" in capsys.readouterr().out


def test_append_is_idempotent_for_facts_with_ids_and_reports_counts(ledger, tmp_path):
    done = run_cli("--ledger", str(ledger), "append", "-", stdin=FACTS.splitlines()[0] + "\n")
    assert done.returncode == 0 and done.stdout.strip() == "stored 0, duplicate 1, conflict 0"
    forged = json.loads(FACTS.splitlines()[0])
    forged["payload"] = {"name": "forged"}
    done = run_cli("--ledger", str(ledger), "append", "-", stdin=json.dumps(forged) + "\n")
    assert done.returncode == 1 and "conflict: 0190b6a2" in done.stderr and "payload" in done.stderr


def test_ledger_from_environment(ledger):
    done = run_cli("runs", env={"CHATSNAPSHOT_LEDGER": str(ledger)})
    assert done.returncode == 0 and "wf-2" in done.stdout


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["replay", "nope"], None, "no run 'nope' in"),
    (["sql", "SELECT nope FROM envelopes"], None, "SQL error"),
    (["append", "-"], '{"event_type": "Bad", "correlation_id": "x"}\n', "-:1: event_type"),
    (["append", "-"], "not json\n", "-:1: not JSON"),
    (["append", "/no/such/file.jsonl"], None, "no such file"),
    (["transcript", "nope"], None, "no run 'nope'"),
    (["dag", "wf-"], None, "'wf-' is the start of 2 runs (wf-1, wf-2): give more of the id"),
    (["stats", "--server", "127.0.0.1:1"], None, "stats of every run reads the ledger directory"),
])
def test_user_errors_are_one_line_without_traceback(ledger, args, stdin, message):
    done = run_cli("--ledger", str(ledger), *args, stdin=stdin)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_missing_ledger_is_one_clear_line(tmp_path):
    done = run_cli("--ledger", str(tmp_path / "absent"), "runs")
    assert done.returncode == 2 and "there is no ledger at" in done.stderr and "Traceback" not in done.stderr


def test_help_lists_every_command():
    done = run_cli("--help")
    for command in ("replay", "runs", "sql", "verify", "compact", "append", "transcript", "timeline", "dag",
                    "context", "stats", "view", "tail"):
        assert command in done.stdout


def test_compact_through_the_cli(ledger):
    done = run_cli("--ledger", str(ledger), "compact")
    assert done.returncode == 0 and done.stdout.startswith("compacted:")


def test_projection_commands_read_a_run_by_a_unique_start_of_its_id(ledger, tmp_path):
    dag = json.loads(run_cli("--ledger", str(ledger), "dag", "wf-1").stdout)
    assert len(dag["nodes"]) == 2 and dag["edges"] == [{"from": "0190b6a2-7c4e-7d3a-9f1e-2b8c4d5e6f70",
                                                        "to": dag["nodes"][1]["event_id"]}]
    stats = [json.loads(line) for line in run_cli("--ledger", str(ledger), "stats", "--format", "jsonl").stdout
             .splitlines()]
    assert [(s["correlation_id"], s["facts"]) for s in stats] == [("wf-1", 2), ("wf-2", 1)]
    assert (ledger / "projections" / "run_metrics.json").exists()
    done = run_cli("--ledger", str(ledger), "context", "wf-2", "--max-chars", "199")
    assert done.returncode == 2 and "at least 200 characters" in done.stderr
    page = tmp_path / "run.html"
    done = run_cli("--ledger", str(ledger), "view", "wf-1", "-o", str(page))
    assert done.returncode == 0 and "wrote" in done.stderr and len(page_data(page.read_text())["envelopes"]) == 2

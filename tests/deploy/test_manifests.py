"""deploy/ stays in step with the command line and the receiver's endpoints."""

from __future__ import annotations

import yaml

from chatsnapshot.cli.main import build_parser
from tests.helpers import ROOT

DEPLOY = ROOT / "deploy"


def sidecar_container() -> dict:
    docs = list(yaml.safe_load_all((DEPLOY / "sidecar.yaml").read_text()))
    pod = next(d for d in docs if d["kind"] == "Pod")
    return next(c for c in pod["spec"]["containers"] if c["name"] == "chatsnapshot")


def test_the_sidecar_arguments_are_valid_serve_flags_and_match_its_ports_and_probes():
    container = sidecar_container()
    args = build_parser().parse_args(container["args"])
    assert args.command == "serve"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert args.grpc.endswith(f":{ports['otlp-grpc']}") and args.http.endswith(f":{ports['otlp-http']}")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert args.ledger == mounts["ledger"] and args.token_file.startswith(mounts["token"])


def test_the_collector_hop_is_configured_not_to_lose_data():
    """The settings deploy/collector.yaml's header names as what makes the hop lossless (the real
    Collector runs the file in tests/collector/)."""
    config = yaml.safe_load((DEPLOY / "collector.yaml").read_text())
    exporter = config["exporters"]["otlp_grpc/chatsnapshot"]
    assert exporter["retry_on_failure"]["enabled"] is True and exporter["retry_on_failure"]["max_elapsed_time"] == 0
    queue = exporter["sending_queue"]
    assert queue["enabled"] is True and queue["block_on_overflow"] is True and "batch" in queue
    assert config["extensions"][queue["storage"]]["fsync"] is True
    assert queue["storage"] in config["service"]["extensions"]
    for pipeline in ("traces", "logs"):
        assert config["service"]["pipelines"][pipeline]["exporters"] == ["otlp_grpc/chatsnapshot"]
        assert config["service"]["pipelines"][pipeline].get("processors", []) == []  # no batch processor

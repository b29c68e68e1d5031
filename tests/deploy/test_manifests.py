"""deploy/ stays in step with the command line and the receiver's endpoints: the Kubernetes
manifests pass the Kubernetes schema (kubernetes-validate, offline, strict), the receiver runs
as a native sidecar with flags ``chatsnapshot serve`` accepts, and the Dockerfile builds the
image those manifests name."""

from __future__ import annotations

import copy
import re
import shlex

import kubernetes_validate
import pytest
import yaml

from chatsnapshot.cli.main import build_parser
from chatsnapshot.environment_variables import __all__ as VARIABLES
from tests.helpers import ROOT

DEPLOY = ROOT / "deploy"
KUBERNETES = "1.33.0"  # native sidecars are GA from 1.33 (beta, on by default, from 1.29)


def documents() -> list[dict]:
    return [d for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")) for d in yaml.safe_load_all(path.read_text())]


def statefulset() -> dict:
    return next(d for d in documents() if d["kind"] == "StatefulSet")


def sidecar() -> dict:
    return next(c for c in statefulset()["spec"]["template"]["spec"]["initContainers"] if c["name"] == "chatsnapshot")


def test_every_manifest_passes_the_kubernetes_schema_strictly():
    docs = documents()
    assert {d["kind"] for d in docs} >= {"StatefulSet", "Service"}
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    broken = copy.deepcopy(statefulset())  # the validator is real: a misspelt field is refused
    broken["spec"]["template"]["spec"]["initContainers"][0]["restartPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_the_receiver_is_a_native_sidecar_with_valid_flags_probes_and_one_writer():
    spec = statefulset()["spec"]
    pod = spec["template"]["spec"]
    container = sidecar()
    assert container["restartPolicy"] == "Always"  # starts before the app, stops after it
    args = build_parser().parse_args(container["args"])
    assert args.command == "serve"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert args.grpc.endswith(f":{ports['otlp-grpc']}") and args.http.endswith(f":{ports['otlp-http']}")
    assert args.http.startswith("0.0.0.0:")  # the kubelet probes the pod's address
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["port"] == "otlp-http"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert args.ledger == [mounts["ledger"]] and args.token_file.startswith(mounts["token"])
    claim = next(c for c in spec["volumeClaimTemplates"] if c["metadata"]["name"] == "ledger")
    assert claim["spec"]["accessModes"] == ["ReadWriteOncePod"]
    token = next(v for v in pod["volumes"] if v["name"] == "token")
    assert token["secret"]["secretName"] == "chatsnapshot-token"
    assert pod["terminationGracePeriodSeconds"] > float(args.shutdown_grace) + 10  # time to seal
    assert container["resources"]["limits"]["memory"] and container["securityContext"]["readOnlyRootFilesystem"]
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_app_is_given_otel_variables_that_name_the_sidecar():
    from chatsnapshot.instrumentation.remote import resolve

    app = next(c for c in statefulset()["spec"]["template"]["spec"]["containers"] if c["name"] == "app")
    env = {e["name"]: e.get("value", "Authorization=Bearer from-the-secret") for e in app["env"]}
    remote = resolve("spans", endpoint=None, protocol=None, token=None, headers=None, tls=None, environ=env)
    assert remote is not None and remote.tls is None  # plaintext on localhost, inside the pod
    assert remote.endpoint.endswith(f":{sidecar()['ports'][0]['containerPort']}") and remote.protocol == "grpc"
    assert remote.headers["authorization"].startswith("Bearer ")


def dockerfile() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_dockerfile_runs_serve_as_a_non_root_user_with_volumes_and_a_health_check():
    instructions = dockerfile()
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM"):]
    ops = dict(final)
    assert re.fullmatch(r"python:3\.1[1-9]-slim", final[0][1])
    assert ops["USER"].split(":")[0] not in ("0", "root")
    entry = yaml.safe_load(ops["ENTRYPOINT"]) + yaml.safe_load(ops["CMD"])
    assert entry[0] == "chatsnapshot" and build_parser().parse_args(entry[1:]).command == "serve"
    env = dict(item.split("=", 1) for item in shlex.split(ops["ENV"]))
    assert set(env) - {"PYTHONUNBUFFERED"} <= set(VARIABLES)
    volumes = yaml.safe_load(ops["VOLUME"])
    assert env["CHATSNAPSHOT_LEDGER"] in volumes and env["CHATSNAPSHOT_SPOOL_DIR"] in volumes
    assert "/readyz" in ops["HEALTHCHECK"] and env["CHATSNAPSHOT_HTTP"].endswith(":4318")
    assert ops["STOPSIGNAL"] == "SIGTERM"
    assert sidecar()["image"].split(":")[0] == "chatsnapshot"


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

"""configure() follows the OpenTelemetry exporter variables, speaks TLS, and never traces its
own export calls. Against a real receiver on loopback, with real certificates."""

from __future__ import annotations

import logging

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import chatsnapshot
from chatsnapshot.environment_variables import CHATSNAPSHOT_ENDPOINT, CHATSNAPSHOT_LEDGER
from chatsnapshot.instrumentation.remote import resolve
from chatsnapshot.receiver.otlp import export_method
from tests.receiver.certificates import make_pki
from tests.receiver.conftest import start_receiver

OTEL = "OTEL_EXPORTER_OTLP_"


def remote(transport: str = "spans", **env: str):
    return resolve(transport, endpoint=None, protocol=None, token=None, headers=None, tls=None, environ=env)


def test_the_otel_variables_mean_what_the_sdks_make_them_mean():
    assert remote() is None  # nothing set: the embedded ledger
    r = remote(**{OTEL + "ENDPOINT": "http://collector:4317",
                  OTEL + "HEADERS": "x-tenant=a%20b, Authorization=Bearer t"})
    assert (r.endpoint, r.protocol, r.tls, r.chosen_by) == ("http://collector:4317", "grpc", None, OTEL + "ENDPOINT")
    assert r.headers == {"x-tenant": "a b", "authorization": "Bearer t"}
    # gRPC without a scheme is TLS unless INSECURE=true; https:// is TLS, with the CA the variables name
    assert remote(**{OTEL + "ENDPOINT": "collector:4317"}).tls is not None
    assert remote(**{OTEL + "ENDPOINT": "collector:4317", OTEL + "INSECURE": "true"}).tls is None
    secure = remote(**{OTEL + "ENDPOINT": "https://collector:4317", OTEL + "CERTIFICATE": __file__})
    assert secure.tls.ca_file == __file__
    # HTTP: the general endpoint is a base, a signal's own endpoint the whole URL; the signal's own wins
    base = remote(**{OTEL + "ENDPOINT": "http://c:4318", OTEL + "PROTOCOL": "http/protobuf"})
    assert (base.protocol, base.url_is_full) == ("http/protobuf", False)
    own = remote("logs", **{OTEL + "ENDPOINT": "http://c:4318", OTEL + "LOGS_ENDPOINT": "http://l:9/ingest",
                            OTEL + "PROTOCOL": "http/protobuf"})
    assert (own.endpoint, own.url_is_full, own.chosen_by) == ("http://l:9/ingest", True, OTEL + "LOGS_ENDPOINT")
    assert remote(**{OTEL + "TRACES_ENDPOINT": "http://t:4317"}).endpoint == "http://t:4317"
    # a named embedded ledger wins over where the program's own telemetry goes
    assert remote(**{CHATSNAPSHOT_LEDGER: "facts", OTEL + "ENDPOINT": "http://jaeger:4317"}) is None
    # CHATSNAPSHOT_ENDPOINT wins over them; an argument over both
    assert remote(**{CHATSNAPSHOT_ENDPOINT: "127.0.0.1:1", OTEL + "ENDPOINT": "http://c:4317"}).chosen_by == \
        CHATSNAPSHOT_ENDPOINT
    with pytest.raises(ValueError, match="http/protobuf"):
        remote(**{OTEL + "ENDPOINT": "http://c:4318", OTEL + "PROTOCOL": "http/json"})
    with pytest.raises(ValueError, match="key=value"):
        remote(**{OTEL + "ENDPOINT": "http://c:4317", OTEL + "HEADERS": "novalue"})


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    for name in (CHATSNAPSHOT_ENDPOINT, CHATSNAPSHOT_LEDGER, OTEL + "ENDPOINT", OTEL + "TRACES_ENDPOINT",
                 OTEL + "PROTOCOL", OTEL + "TRACES_PROTOCOL", OTEL + "INSECURE", OTEL + "HEADERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    chatsnapshot.instrumentation.configuration._install(None)


def deliver(pipeline, run: str) -> str:
    with chatsnapshot.correlation(run):
        event_id = chatsnapshot.record("system.task_completed", payload={"ok": True})
    assert pipeline.delivered(20_000)
    return event_id


def test_an_app_given_only_otel_variables_sends_to_the_receiver_they_name(isolated, tmp_path, monkeypatch, caplog):
    r = start_receiver(tmp_path / "ledger", memory=True)
    try:
        monkeypatch.setenv(OTEL + "ENDPOINT", f"http://127.0.0.1:{r.grpc_port}")
        with caplog.at_level(logging.INFO, logger="chatsnapshot"):
            pipeline = chatsnapshot.configure(spool_dir=tmp_path / "spool")
        event_id = deliver(pipeline, "otel-vars")
        assert [e.event_id for e in r.ledger.replay("otel-vars")] == [event_id]
        lines = [m for m in caplog.messages if m.startswith("chatsnapshot: facts go to")]
        assert len(lines) == 1 and f"127.0.0.1:{r.grpc_port} over grpc" in lines[0] and OTEL + "ENDPOINT" in lines[0]
    finally:
        r.stop(grace=1)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="chatsnapshot"):
        monkeypatch.delenv(OTEL + "ENDPOINT")
        chatsnapshot.configure()
    assert any("embedded ledger" in m for m in caplog.messages)


@pytest.fixture
def pki(tmp_path):
    (tmp_path / "pki").mkdir()
    return make_pki(tmp_path / "pki")


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_the_spool_sends_over_tls_and_mtls(isolated, tmp_path, pki, protocol, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    r = start_receiver(tmp_path / "ledger", memory=True, tls_cert=str(pki["server"]), tls_key=str(pki["server_key"]),
                       tls_client_ca=str(pki["ca"]))
    try:
        port = r.grpc_port if protocol == "grpc" else r.http_address[1]
        endpoint = f"https://localhost:{port}"
        pipeline = chatsnapshot.configure(endpoint=endpoint, protocol=protocol, spool_dir=tmp_path / "spool-mtls",
                                          ca_file=str(pki["ca"]), client_cert_file=str(pki["client"]),
                                          client_key_file=str(pki["client_key"]))
        event_id = deliver(pipeline, "tls-run")
        assert [e.event_id for e in r.ledger.replay("tls-run")] == [event_id]
        # The same receiver refuses a sender that trusts it but has no client certificate: nothing arrives.
        pipeline = chatsnapshot.configure(endpoint=endpoint, protocol=protocol, spool_dir=tmp_path / "spool-tls",
                                          ca_file=str(pki["ca"]))
        with chatsnapshot.correlation("no-client-cert"):
            chatsnapshot.record("system.task_completed", payload={"ok": False})
        assert not pipeline.delivered(1_500)
        assert list(r.ledger.replay("no-client-cert")) == []
    finally:
        chatsnapshot.instrumentation.configuration._install(None)
        r.stop(grace=1)


def test_the_sender_never_traces_its_own_export_calls(isolated, tmp_path, monkeypatch):
    from opentelemetry import trace
    from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)  # the program's global provider, as under
    instrumentor = GrpcInstrumentorClient()                   # opentelemetry-instrument (restored after)
    instrumentor.instrument()
    r = start_receiver(tmp_path / "ledger", memory=True)
    try:
        pipeline = chatsnapshot.configure(endpoint=f"127.0.0.1:{r.grpc_port}", spool_dir=tmp_path / "spool")
        deliver(pipeline, "untraced")
        assert len(list(r.ledger.replay("untraced"))) == 1
        assert [s.name for s in spans.get_finished_spans()] == []  # no span of the sender's Export call
        # The instrumentation is live: any other gRPC call of the program is traced.
        with grpc.insecure_channel(f"127.0.0.1:{r.grpc_port}") as channel:
            channel.unary_unary(export_method("traces"), request_serializer=None,
                                response_deserializer=None)(b"", timeout=5)
        assert [s.name for s in spans.get_finished_spans()] == [export_method("traces")]
    finally:
        instrumentor.uninstrument()
        r.stop(grace=1)

"""TLS and mTLS on both transports, with the official exporters as clients."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.otlp import SpanRecorder, agent_trace
from tests.receiver.certificates import make_pki
from tests.receiver.conftest import start_receiver


@pytest.fixture
def pki(tmp_path):
    (tmp_path / "pki").mkdir()
    return make_pki(tmp_path / "pki")


def spans():
    rec = SpanRecorder()
    agent_trace(rec, correlation="tls")
    return rec.spans()


def test_mtls_accepts_a_client_certificate_and_refuses_a_client_without_one(tmp_path, pki, monkeypatch):
    # requests lets these variables override the exporter's own CA file (psf/requests#3829).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    r = start_receiver(tmp_path / "ledger", memory=True, tls_cert=str(pki["server"]), tls_key=str(pki["server_key"]),
                       tls_client_ca=str(pki["ca"]))
    try:
        grpc_endpoint = f"localhost:{r.grpc_port}"
        with_cert = GrpcSpanExporter(endpoint=grpc_endpoint, insecure=False, timeout=5,
                                     **_grpc_credentials(pki, client=True))
        assert with_cert.export(spans()) is SpanExportResult.SUCCESS
        with_cert.shutdown()
        without = GrpcSpanExporter(endpoint=grpc_endpoint, insecure=False, timeout=2,
                                   **_grpc_credentials(pki, client=False))
        assert without.export(spans()) is SpanExportResult.FAILURE
        without.shutdown()

        port = r.http_address[1]
        url = f"https://localhost:{port}/v1/traces"
        http_with = HttpSpanExporter(endpoint=url, certificate_file=str(pki["ca"]),
                                     client_certificate_file=str(pki["client"]),
                                     client_key_file=str(pki["client_key"]))
        assert http_with.export(spans()) is SpanExportResult.SUCCESS
        http_with.shutdown()
        context = ssl.create_default_context(cafile=str(pki["ca"]))  # trusts the server, offers no certificate
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"https://localhost:{port}/healthz", context=context, timeout=5).read()
        assert len(list(r.ledger.replay("tls"))) == 14  # the two exports with a certificate
    finally:
        r.stop(grace=1)


def test_tls_without_client_certificates(tmp_path, pki):
    r = start_receiver(tmp_path / "ledger", memory=True, tls_cert=str(pki["server"]), tls_key=str(pki["server_key"]))
    try:
        exporter = GrpcSpanExporter(endpoint=f"localhost:{r.grpc_port}", insecure=False, timeout=5,
                                    **_grpc_credentials(pki, client=False))
        assert exporter.export(spans()) is SpanExportResult.SUCCESS
        exporter.shutdown()
        plain = GrpcSpanExporter(endpoint=f"localhost:{r.grpc_port}", insecure=True, timeout=2)
        assert plain.export(spans()) is SpanExportResult.FAILURE  # plaintext to a TLS port
        plain.shutdown()
    finally:
        r.stop(grace=1)


def test_a_stalled_tls_client_does_not_hold_up_the_others(tmp_path, pki):
    import socket

    r = start_receiver(tmp_path / "ledger", memory=True, tls_cert=str(pki["server"]), tls_key=str(pki["server_key"]))
    host, port = r.http_address
    stalled = socket.create_connection((host, port), timeout=30)  # connects, never says hello
    try:
        context = ssl.create_default_context(cafile=str(pki["ca"]))
        # Served while the stalled handshake is still pending (the server gives it 10 s; this client 5).
        with urllib.request.urlopen(f"https://localhost:{port}/healthz", context=context, timeout=5) as answer:
            assert answer.status == 200
    finally:
        stalled.close()
        r.stop(grace=1)


def _grpc_credentials(pki, *, client: bool) -> dict:
    import grpc

    return {"credentials": grpc.ssl_channel_credentials(
        root_certificates=pki["ca"].read_bytes(),
        private_key=pki["client_key"].read_bytes() if client else None,
        certificate_chain=pki["client"].read_bytes() if client else None,
    )}

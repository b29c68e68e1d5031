"""The receiver process: OTLP/gRPC and OTLP/HTTP in front of one ledger.

``Receiver(settings).start()`` opens the ledger (as its one writer), starts both
servers and returns; ``stop()`` shuts down in order: stop accepting, let
requests in flight finish (up to ``shutdown_grace`` seconds), seal, release the
ledger. ``run(settings)`` does both around SIGTERM/SIGINT for ``chatsnapshot serve``.
"""

from __future__ import annotations

import logging
import signal
import socket
import ssl
import threading
from concurrent import futures
from dataclasses import replace
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2

from chatsnapshot.ledger import Ledger, LedgerOptions
from chatsnapshot.ledger.checkpoint import SigningKey
from chatsnapshot.ledger.store import Store
from chatsnapshot.receiver.auth import Authenticator
from chatsnapshot.receiver.forwarding import Forwarder
from chatsnapshot.receiver.grpc_service import add_services
from chatsnapshot.receiver.http_service import HttpReceiver
from chatsnapshot.receiver.ingest import Ingest
from chatsnapshot.receiver.ledger_service import add_ledger_service
from chatsnapshot.receiver.memory import collect_for_a_server, return_freed_memory
from chatsnapshot.receiver.metrics import Metrics
from chatsnapshot.receiver.otlp import EXPORT_SERVICES
from chatsnapshot.receiver.settings import Settings
from chatsnapshot.receiver.span_rules import DEFAULT_RULES, Rules, load_rules
from chatsnapshot.receiver.workers import PromotionPool

__all__ = ["Receiver", "run"]

log = logging.getLogger("chatsnapshot.receiver")

# Threads for gRPC calls. Admission (receiver.ingest) bounds the work; the threads only have to be
# enough that every arriving request reaches admission at once, to be answered (OK or UNAVAILABLE)
# before its deadline, rather than wait in the executor's queue, where no deadline is looked at.
# A waiting thread costs its stack's touched pages. bench/ingest.py, 3x overload for 20 s:
# 16 threads -> 580 DEADLINE_EXCEEDED, 256 threads -> 215.
_GRPC_WORKERS = 256
HEALTH_INTERVAL = 1.0  # seconds between readiness checks for gRPC health

# A sidecar keeps its memory small: seal every 4 MiB rather than 16 (unsealed
# records live as Python objects, several times their encoded size). Measured
# with bench/ingest.py: peak RSS of all receiver processes 336 -> 266 MiB, same
# throughput, lower visibility latency. And compact 16 segments at a time, not 64:
# merging 64 sealed segments peaks 113 MiB over the idle writer, 16 at a time 61 MiB
# (docs/performance.md), for rewriting each row about twice rather than once.
SIDECAR_OPTIONS = LedgerOptions(seal_max_bytes=4 << 20, max_unsealed_bytes=32 << 20, compact_fanin=16)


class Receiver:
    def __init__(self, settings: Settings, *, ledger: Store | None = None) -> None:
        return_freed_memory()
        self.settings = settings
        self.rules: Rules | None = None
        if settings.rules_file:
            self.rules = load_rules(settings.rules_file)
        elif settings.promote_spans:
            self.rules = DEFAULT_RULES
        self._tls_files = _read_tls(settings)  # fail on a bad path before opening the ledger
        key = SigningKey.load(settings.signing_key) if settings.signing_key else None
        self.ledger: Store = ledger or Ledger.open(settings.ledger, options=replace(SIDECAR_OPTIONS, signing_key=key))
        self.metrics = Metrics()
        self.forwarder = Forwarder(settings.forward_otlp, self.metrics) if settings.forward_otlp else None
        try:
            self.pool = PromotionPool(settings.workers, self.rules) if settings.workers else None
        except BaseException:
            self.ledger.close()
            if self.forwarder is not None:
                self.forwarder.close()
            raise
        self.ingest = Ingest(self.ledger, metrics=self.metrics, rules=self.rules, max_pending=settings.max_pending,
                             max_pending_bytes=settings.max_pending_bytes,
                             max_queue_delay=settings.max_queue_delay,
                             forwarder=self.forwarder, pool=self.pool)
        self.auth = Authenticator(settings.tokens)
        self._grpc: grpc.Server | None = None
        self._health = health.HealthServicer()
        self._http: HttpReceiver | None = None
        self.grpc_port: int | None = None
        self.http_address: tuple[str, int] | None = None
        self._stopped = False
        self._stopping = threading.Event()  # ends Tail streams at shutdown
        self._executor: futures.ThreadPoolExecutor | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> Receiver:
        """Start serving; on failure (a port in use, ...) everything started is stopped again."""
        try:
            return self._start()
        except BaseException:
            self.stop(grace=0)
            raise

    def _start(self) -> Receiver:
        s = self.settings
        if s.grpc is not None:
            self._executor = futures.ThreadPoolExecutor(max_workers=_GRPC_WORKERS, thread_name_prefix="otlp-grpc")
            server = grpc.server(
                self._executor,
                options=[("grpc.max_receive_message_length", s.max_request_bytes),
                         ("grpc.so_reuseport", 0),
                         # No bandwidth-delay probing: each stream keeps HTTP/2's 64 KiB window, so requests
                         # waiting for admission or refused hold that much in the transport, not megabytes
                         # (3x overload, 12 s: the main process peaks at 305-311 MiB, 324-331 without).
                         ("grpc.http2.bdp_probe", 0)],
            )
            add_services(server, self.ingest, self.auth, self._health)
            add_ledger_service(server, self.ledger, self.auth, self._stopping)
            address = f"[{s.grpc[0]}]:{s.grpc[1]}" if ":" in s.grpc[0] else f"{s.grpc[0]}:{s.grpc[1]}"
            credentials = None
            if self._tls_files is not None:
                key, cert, client_ca = self._tls_files
                credentials = grpc.ssl_server_credentials([(key, cert)], root_certificates=client_ca,
                                                          require_client_auth=client_ca is not None)
            try:
                _probe(s.grpc)  # our own message, before grpcio logs its own at C level
                self.grpc_port = (server.add_secure_port(address, credentials) if credentials is not None
                                  else server.add_insecure_port(address))
            except (OSError, RuntimeError):  # the address is taken, or not this host's
                self.grpc_port = 0
            if not self.grpc_port:
                raise OSError(f"cannot listen for OTLP/gRPC on {address}: the port is in use or the address is "
                              "not this machine's; change --grpc")
            server.start()
            self._grpc = server
        if s.http is not None:
            try:
                self._http = HttpReceiver(s.http, self.ingest, self.auth, max_request_bytes=s.max_request_bytes,
                                          ready=self.ready, tls=self._http_tls())
            except OSError as e:
                raise OSError(f"cannot listen for OTLP/HTTP on {s.http[0]}:{s.http[1]}: {e.strerror or e}; "
                              "change --http") from None
            self._http.start()
            self.http_address = self._http.address
        threading.Thread(target=self._watch_health, name="chatsnapshot-health", daemon=True).start()
        log.info("receiving OTLP on gRPC %s, HTTP %s into %s", self.grpc_port, self.http_address, self.ledger.path)
        return self

    def _watch_health(self) -> None:
        """gRPC health follows readiness: NOT_SERVING while the store refuses writes, SERVING again after."""
        serving = True
        while not self._stopping.wait(HEALTH_INTERVAL):
            ready = self.ready()
            if ready != serving:
                serving = ready
                status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
                for service in ("", *EXPORT_SERVICES.values()):
                    self._health.set(service, status)
                log.warning("store %s: health %s", "takes writes again" if ready else "refuses writes",
                            "SERVING" if ready else "NOT_SERVING")

    def ready(self) -> bool:
        """The ledger is open and takes writes (``Store.writable``)."""
        return not self._stopped and self.ledger.writable

    def stop(self, grace: float | None = None) -> None:
        """Stop accepting, finish in-flight requests, seal and close the ledger. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        grace = self.settings.shutdown_grace if grace is None else grace
        self._health.enter_graceful_shutdown()
        self._stopping.set()
        waits = []
        if self._grpc is not None:
            waits.append(self._grpc.stop(grace))
        if self._http is not None:
            self._http.stop(grace)
        for done in waits:
            done.wait(grace + 1)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self.ledger.close()
        if self.pool is not None:
            self.pool.close()
        if self.forwarder is not None:
            self.forwarder.close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _http_tls(self) -> ssl.SSLContext | None:
        s = self.settings
        if s.tls_cert is None or s.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(s.tls_cert, s.tls_key)
        if s.tls_client_ca:
            context.load_verify_locations(s.tls_client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
        return context


def _read_tls(settings: Settings) -> tuple[bytes, bytes, bytes | None] | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    try:
        key = Path(settings.tls_key).read_bytes()
        cert = Path(settings.tls_cert).read_bytes()
        client_ca = Path(settings.tls_client_ca).read_bytes() if settings.tls_client_ca else None
    except OSError as e:
        raise ValueError(f"cannot read TLS file {e.filename}: {e.strerror}") from None
    return key, cert, client_ca


def run(settings: Settings) -> int:
    """Serve until SIGTERM or SIGINT, then shut down cleanly; the exit status."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    receiver = Receiver(settings)
    collect_for_a_server()  # the ledger is open, no request has arrived yet
    receiver.start()
    print(f"chatsnapshot: receiving OTLP into {receiver.ledger.path}: "
          f"gRPC {_where(settings.grpc, receiver.grpc_port)}, HTTP {_where(settings.http, receiver.http_address)}",
          flush=True)
    stop.wait()
    log.info("shutting down: finishing requests in flight, sealing")
    receiver.stop()
    print("chatsnapshot: receiver stopped; everything acknowledged is sealed", flush=True)
    return 0


def _where(configured: tuple[str, int] | None, bound: object) -> str:
    if configured is None:
        return "off"
    port = bound[1] if isinstance(bound, tuple) else bound
    return f"{configured[0]}:{port}"


def _probe(address: tuple[str, int]) -> None:
    """Raise OSError when ``address`` cannot be listened on now (a port in use, a foreign address)."""
    host, port = address
    if not port:
        return  # the OS chooses: always available
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpcio binds: TIME_WAIT is no obstacle
        probe.bind((host, port))

"""Every environment variable ChatSnapshot reads, with its meaning and default.

Precedence everywhere: an explicit argument or flag beats the environment
variable, which beats the default. No other module spells a ``CHATSNAPSHOT_*``
name (a test checks it); each reads the constants below.

Producers (``configure()``, ``record()``, the ``opentelemetry-instrument`` exporters):

==========================  ==============================================================  =========================
variable                    meaning                                                         default
==========================  ==============================================================  =========================
``CHATSNAPSHOT_LEDGER``     the ledger directory (embedded mode, the command line, serve)   ``./chatsnapshot-ledger``
``CHATSNAPSHOT_ENDPOINT``   send facts to this receiver or collector (remote mode)          none: embedded
``CHATSNAPSHOT_PROTOCOL``   remote mode's protocol: ``grpc`` or ``http/protobuf``           ``grpc``
``CHATSNAPSHOT_SPOOL_DIR``  remote mode's durable spool                                     ``./chatsnapshot-spool``
``CHATSNAPSHOT_TOKEN``      bearer token sent to a receiver (remote mode, ``--server``)     none
``CHATSNAPSHOT_TRANSPORT``  facts as ``spans`` (span events) or ``logs`` (log records)      ``spans``
``CHATSNAPSHOT_PRICES``     a TOML table of model prices: cost estimated where none reported  none: no estimates
==========================  ==============================================================  =========================

Without ``CHATSNAPSHOT_ENDPOINT``, ``configure()`` follows the OpenTelemetry exporter
variables (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``_PROTOCOL``, ``_HEADERS``, ``_CERTIFICATE``,
``_CLIENT_CERTIFICATE``, ``_CLIENT_KEY``, ``_INSECURE``, and their ``_TRACES_`` / ``_LOGS_``
forms); see ``chatsnapshot.instrumentation.remote``.

Checkpoints (``chatsnapshot serve``, ``checkpoint``):

=============================  ==========================================================  ================
``CHATSNAPSHOT_SIGNING_KEY``   the key file that signs checkpoints (``chatsnapshot keygen``)  none: unsigned
=============================  ==========================================================  ================

The receiver (``chatsnapshot serve``; each has the flag named in
``chatsnapshot.receiver.settings``):

=================================  ===========================================================  ==================
variable                           meaning                                                      default
=================================  ===========================================================  ==================
``CHATSNAPSHOT_GRPC``              OTLP/gRPC listen address ``HOST:PORT``, or ``off``           ``127.0.0.1:4317``
``CHATSNAPSHOT_HTTP``              OTLP/HTTP listen address ``HOST:PORT``, or ``off``           ``127.0.0.1:4318``
``CHATSNAPSHOT_MAX_REQUEST_BYTES`` largest request, after decompression                         64 MiB
``CHATSNAPSHOT_MAX_PENDING``       envelopes admitted and not yet committed                     65536
``CHATSNAPSHOT_MAX_PENDING_BYTES`` bytes of requests in flight, admitted before decoding        64 MiB
``CHATSNAPSHOT_MAX_QUEUE_DELAY``   seconds of work admitted ahead of a request, at most             0.5
``CHATSNAPSHOT_PROMOTE_SPANS``     promote GenAI spans by the default rules (``1``/``on``)      off
``CHATSNAPSHOT_RULES``             a TOML span rules file (implies promotion)                   none
``CHATSNAPSHOT_TOKENS``            accepted bearer tokens, comma- or line-separated             none: no auth
``CHATSNAPSHOT_TLS_CERT``          PEM certificate: serve TLS (with ``_TLS_KEY``)               none
``CHATSNAPSHOT_TLS_KEY``           PEM private key of that certificate                          none
``CHATSNAPSHOT_TLS_CLIENT_CA``     PEM CA: require client certificates (mTLS)                   none
``CHATSNAPSHOT_SHUTDOWN_GRACE``    seconds for requests in flight at shutdown                   10
``CHATSNAPSHOT_FORWARD_OTLP``      re-export every request to this OTLP/gRPC ``HOST:PORT``      none
``CHATSNAPSHOT_WORKERS``           promotion worker processes (0: in the receiver's process)    1 on 2+ cores
=================================  ===========================================================  ==================

The command line and the receiver also honour Arrow's own ``ARROW_DEFAULT_MEMORY_POOL``: unset,
they have Arrow allocate with the C library's malloc (``system``), which gives freed memory back
(``chatsnapshot.receiver.memory``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ARROW_DEFAULT_MEMORY_POOL",
    "CHATSNAPSHOT_ENDPOINT",
    "CHATSNAPSHOT_FORWARD_OTLP",
    "CHATSNAPSHOT_GRPC",
    "CHATSNAPSHOT_HTTP",
    "CHATSNAPSHOT_LEDGER",
    "CHATSNAPSHOT_MAX_PENDING",
    "CHATSNAPSHOT_MAX_PENDING_BYTES",
    "CHATSNAPSHOT_MAX_QUEUE_DELAY",
    "CHATSNAPSHOT_MAX_REQUEST_BYTES",
    "CHATSNAPSHOT_PRICES",
    "CHATSNAPSHOT_PROMOTE_SPANS",
    "CHATSNAPSHOT_PROTOCOL",
    "CHATSNAPSHOT_RULES",
    "CHATSNAPSHOT_SHUTDOWN_GRACE",
    "CHATSNAPSHOT_SIGNING_KEY",
    "CHATSNAPSHOT_SPOOL_DIR",
    "CHATSNAPSHOT_TLS_CERT",
    "CHATSNAPSHOT_TLS_CLIENT_CA",
    "CHATSNAPSHOT_TLS_KEY",
    "CHATSNAPSHOT_TOKEN",
    "CHATSNAPSHOT_TOKENS",
    "CHATSNAPSHOT_TRANSPORT",
    "CHATSNAPSHOT_WORKERS",
    "DEFAULT_LEDGER",
    "DEFAULT_SPOOL",
    "OTEL_EXPORTER_OTLP",
    "OTLP_SETTINGS",
    "ledger_path",
]

# -- producers -----------------------------------------------------------------------

CHATSNAPSHOT_LEDGER = "CHATSNAPSHOT_LEDGER"
DEFAULT_LEDGER = "./chatsnapshot-ledger"
CHATSNAPSHOT_ENDPOINT = "CHATSNAPSHOT_ENDPOINT"
CHATSNAPSHOT_PROTOCOL = "CHATSNAPSHOT_PROTOCOL"
CHATSNAPSHOT_SPOOL_DIR = "CHATSNAPSHOT_SPOOL_DIR"
DEFAULT_SPOOL = "./chatsnapshot-spool"
CHATSNAPSHOT_TOKEN = "CHATSNAPSHOT_TOKEN"
CHATSNAPSHOT_TRANSPORT = "CHATSNAPSHOT_TRANSPORT"
CHATSNAPSHOT_PRICES = "CHATSNAPSHOT_PRICES"  # ledger.projections.prices

# The OpenTelemetry exporter conventions, which configure() follows when no CHATSNAPSHOT_ENDPOINT
# is set (instrumentation.remote): each also exists per signal, OTEL_EXPORTER_OTLP_TRACES_* and
# OTEL_EXPORTER_OTLP_LOGS_*, which wins over the general one.
OTEL_EXPORTER_OTLP = "OTEL_EXPORTER_OTLP"  # the prefix
OTLP_SETTINGS = ("ENDPOINT", "PROTOCOL", "HEADERS", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY", "INSECURE")

# -- the receiver --------------------------------------------------------------------

CHATSNAPSHOT_GRPC = "CHATSNAPSHOT_GRPC"
CHATSNAPSHOT_HTTP = "CHATSNAPSHOT_HTTP"
CHATSNAPSHOT_MAX_REQUEST_BYTES = "CHATSNAPSHOT_MAX_REQUEST_BYTES"
CHATSNAPSHOT_MAX_PENDING = "CHATSNAPSHOT_MAX_PENDING"
CHATSNAPSHOT_MAX_PENDING_BYTES = "CHATSNAPSHOT_MAX_PENDING_BYTES"
CHATSNAPSHOT_MAX_QUEUE_DELAY = "CHATSNAPSHOT_MAX_QUEUE_DELAY"
CHATSNAPSHOT_PROMOTE_SPANS = "CHATSNAPSHOT_PROMOTE_SPANS"
CHATSNAPSHOT_RULES = "CHATSNAPSHOT_RULES"
CHATSNAPSHOT_TOKENS = "CHATSNAPSHOT_TOKENS"
CHATSNAPSHOT_TLS_CERT = "CHATSNAPSHOT_TLS_CERT"
CHATSNAPSHOT_TLS_KEY = "CHATSNAPSHOT_TLS_KEY"
CHATSNAPSHOT_TLS_CLIENT_CA = "CHATSNAPSHOT_TLS_CLIENT_CA"
CHATSNAPSHOT_SHUTDOWN_GRACE = "CHATSNAPSHOT_SHUTDOWN_GRACE"
CHATSNAPSHOT_FORWARD_OTLP = "CHATSNAPSHOT_FORWARD_OTLP"
CHATSNAPSHOT_WORKERS = "CHATSNAPSHOT_WORKERS"
ARROW_DEFAULT_MEMORY_POOL = "ARROW_DEFAULT_MEMORY_POOL"  # Arrow's: the command line picks ``system`` when unset

# -- checkpoints ---------------------------------------------------------------------

CHATSNAPSHOT_SIGNING_KEY = "CHATSNAPSHOT_SIGNING_KEY"


def ledger_path(explicit: str | Path | None = None) -> str | Path:
    """``explicit``, else ``$CHATSNAPSHOT_LEDGER``, else ``./chatsnapshot-ledger``."""
    return explicit or os.environ.get(CHATSNAPSHOT_LEDGER) or DEFAULT_LEDGER

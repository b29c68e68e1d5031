"""A real receiver on loopback (grpcio server and HTTP server, ports chosen by the OS)."""

from __future__ import annotations

import pytest

from chatsnapshot.ledger.memory import MemoryLedger
from chatsnapshot.receiver.server import Receiver
from chatsnapshot.receiver.settings import Settings


def start_receiver(ledger_dir, *, memory: bool = False, **overrides) -> Receiver:
    """A started receiver; ports are the OS's choice unless ``grpc=``/``http=`` say otherwise.
    ``memory=True``: its store is a ``MemoryLedger`` named after ``ledger_dir`` (for tests
    where the disk is not the point), else the ledger directory ``ledger_dir``."""
    settings = Settings(**{"ledger": str(ledger_dir), "grpc": ("127.0.0.1", 0), "http": ("127.0.0.1", 0),
                           **overrides})
    return Receiver(settings, ledger=MemoryLedger.open(ledger_dir) if memory else None).start()


@pytest.fixture
def receiver(tmp_path):
    r = start_receiver(tmp_path / "ledger")
    yield r
    r.stop(grace=2)

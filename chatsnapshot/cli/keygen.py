"""chatsnapshot keygen: a new Ed25519 key for signing checkpoints."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from chatsnapshot.cli import common
from chatsnapshot.ledger.checkpoint import generate_key


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "keygen", parents=[parent], help="make a key to sign checkpoints with",
        description="Write a new Ed25519 signing key to FILE (mode 0600, in the C2SP signed-note form) and its "
                    "verifier key to FILE.pub, and print the verifier key. Keep FILE outside the ledger "
                    "directory (a secret store, a key manager); give FILE.pub to whoever audits the ledger.",
    )
    p.add_argument("name", metavar="NAME", help="the key's name, shown in every signature (e.g. ops-2026)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the signing key")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.output)
    if path.exists():
        raise common.UserError(f"{path} exists; choose another file (a key is never overwritten)")
    key = generate_key(args.name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.text() + "\n")
    Path(f"{path}.pub").write_text(key.verifier.text() + "\n")
    print(key.verifier.text())
    return 0

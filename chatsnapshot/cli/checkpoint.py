"""chatsnapshot checkpoint: a signed commitment to the whole ledger, to keep elsewhere."""

from __future__ import annotations

import argparse
import sys

from chatsnapshot.cli import common
from chatsnapshot.environment_variables import CHATSNAPSHOT_SIGNING_KEY
from chatsnapshot.ledger.checkpoint import SigningKey


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "checkpoint", parents=[parent], help="print a signed checkpoint of the ledger",
        description="Print a checkpoint of every envelope in the ledger now: the size and RFC 6962 Merkle root "
                    "of their hashes in position order, as a C2SP signed note. Copy it anywhere (another "
                    "machine, WORM storage); `chatsnapshot verify --checkpoint FILE --key PUB` later proves that "
                    "the ledger still extends it. Works while a receiver runs (it covers what is sealed and "
                    "visible to readers). Without a signing key the checkpoint is unsigned, and says so.",
    )
    p.add_argument("--signing-key", metavar="FILE",
                   help=f"sign with this key (chatsnapshot keygen; default ${CHATSNAPSHOT_SIGNING_KEY})")
    p.add_argument("-o", "--output", metavar="FILE", help="write the checkpoint to FILE instead of stdout")
    common.add_server_argument(p, "print the newest checkpoint a running receiver wrote (after its last seal, "
                                  "signed with its own key)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.server:
        if args.signing_key:
            raise common.UserError("--signing-key signs a checkpoint made here; with --server the receiver's "
                                   "own checkpoint is printed as it signed it: give one or the other")
        with common.connect(args) as client:
            note = common.remote(client.checkpoint, args.server)
        if note is None:
            raise common.UserError(f"{args.server} has written no checkpoint yet (it writes one after each seal)")
        common.write_text(note, args.output)
        return 0
    path = common.signing_key_path(args)
    key = SigningKey.load(path) if path else None
    with common.open_reader(args) as ledger:
        note = ledger.checkpoint(key)
    common.write_text(note, args.output)
    if key is None:
        print("chatsnapshot: warning: unsigned checkpoint (no --signing-key): it catches accidents, not a forger",
              file=sys.stderr)
    return 0

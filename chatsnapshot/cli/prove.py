"""chatsnapshot prove / verify-proof: an envelope's inclusion proof, made and checked offline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from chatsnapshot.cli import common
from chatsnapshot.ledger.checkpoint import InclusionProof, VerifierKey, verify_proof


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "prove", parents=[parent], help="print an inclusion proof of one envelope",
        description="Print, as JSON, the proof that envelope EVENT_ID is in the ledger a checkpoint commits to: "
                    "the envelope, the checkpoint and the RFC 6962 audit path. `chatsnapshot verify-proof` "
                    "checks it with no ledger at hand.",
    )
    p.add_argument("event_id", metavar="EVENT_ID")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="prove against this checkpoint (default: one made now; with --server, the receiver's newest)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the proof to FILE instead of stdout")
    common.add_server_argument(p)
    p.set_defaults(func=run_prove)

    v = subparsers.add_parser(
        "verify-proof", parents=[parent], help="check an inclusion proof offline",
        description="Check that the envelope in PROOF is in the ledger the checkpoint commits to: the "
                    "checkpoint's signature (with --key), the envelope's hash from its own fields, and the audit "
                    "path to the checkpoint's root. Needs no ledger. Exit 0 when it holds, 1 when it does not.",
    )
    v.add_argument("proof", metavar="PROOF", help="a file written by `chatsnapshot prove`")
    v.add_argument("--checkpoint", metavar="FILE",
                   help="the checkpoint you trust (default: the one inside the proof; give yours)")
    v.add_argument("--key", metavar="PUB", help="the verifier key (FILE.pub of keygen, or its text)")
    v.set_defaults(func=run_verify_proof)


def run_prove(args: argparse.Namespace) -> int:
    note = Path(args.checkpoint).read_text() if args.checkpoint else None
    if args.server:
        with common.connect(args) as client:
            proof = common.remote(lambda: client.prove(args.event_id, note), args.server)
    else:
        with common.open_reader(args) as ledger:
            try:
                proof = ledger.prove(args.event_id, note)
            except LookupError as e:
                raise common.UserError(str(e).strip("'\"")) from None
    common.write_text(json.dumps(proof.to_json(), ensure_ascii=False, indent=1) + "\n", args.output)
    return 0


def run_verify_proof(args: argparse.Namespace) -> int:
    try:
        proof = InclusionProof.from_json(json.loads(Path(args.proof).read_text()))
    except (OSError, ValueError) as e:
        raise common.UserError(f"cannot read the proof {args.proof}: {e}") from None
    note = Path(args.checkpoint).read_text() if args.checkpoint else proof.checkpoint
    key = VerifierKey.load(args.key) if args.key else None
    try:
        checkpoint = verify_proof(proof, note, key)
    except Exception as e:  # CheckpointError: the answer is no
        print(f"NOT PROVEN: {e}")
        return common.EXIT_NO
    signed = f"signed by {key.name}" if key else "signature NOT checked (no --key)"
    print(f"proven: envelope {proof.envelope['event_id']} is leaf {proof.leaf_index} of the {checkpoint.size} "
          f"envelopes {checkpoint.origin} committed to ({signed})")
    return 0

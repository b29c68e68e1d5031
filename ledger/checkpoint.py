"""Signed checkpoints: a commitment to the whole ledger that an auditor can keep elsewhere.

A checkpoint is the C2SP ``tlog-checkpoint`` text, as a C2SP signed note::

    chatsnapshot.ledger/6f0c1d1e9b0a4c55a1f2d3e4b5c6d7e8     origin: this ledger's id
    18                                                     tree size: envelopes committed to
    bzTP7... (base64)                                      RFC 6962 root of their hashes
                                                           (blank line)
    — ops-2026 AbCdEf... (base64: key id || Ed25519 signature)

The tree (``ledger.merkle``) has one leaf per stored envelope, its chain hash,
in position order across every run, so a checkpoint of size N commits to every
field of the first N envelopes at once: any later edit, deletion, insertion,
reordering or consistent re-chaining of them changes the root.

Keys follow the C2SP signed-note form for Ed25519: the verifier key is the text
``NAME+HASH+BASE64(0x01 || public key)`` with ``HASH`` the first 4 bytes of
``SHA-256(NAME || 0x0A || 0x01 || public key)`` (also the signature's key id);
the signing key file is ``PRIVATE+KEY+NAME+HASH+BASE64(0x01 || seed)``, the form
Go's ``golang.org/x/mod/sumdb/note`` reads. A checkpoint written without a key
is the checkpoint text alone, with no signature line: not a signed note (tools
that need one reject it), kept as ``*.unsigned`` rather than ``*.note``. Anyone
who can write the directory can forge it; it still detects accidents and
careless edits.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chatsnapshot.errors import CheckpointError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "Checkpoint", "InclusionProof", "SigningKey", "VerifierKey", "generate_key", "parse_note", "sign", "verify_note",
    "verify_proof",
]

_ED25519 = b"\x01"
_DASH = "\u2014 "  # a signature line starts with an em dash and a space


@dataclass(frozen=True)
class Checkpoint:
    """A tree size and root for a ledger (``origin``), with optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The signed text: origin, size, base64 root, extension lines; each ends in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)


def _key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c in name for c in "+ \n\t") or not name.isprintable():
        raise CheckpointError(f"a key name must be non-empty, printable, without spaces or '+': {name!r}")


@dataclass(frozen=True)
class VerifierKey:
    """What an auditor holds: the key's name and its Ed25519 public key."""

    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return _key_hash(self.name, self.public)

    def text(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(_ED25519 + self.public).decode()}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read ``NAME+HASH+BASE64`` (raises ``CheckpointError``)."""
        try:
            name, key_hash, blob = text.strip().split("+", 2)
            raw = base64.b64decode(blob, validate=True)
        except ValueError as e:
            raise CheckpointError(f"not a verifier key (NAME+HASH+BASE64): {text.strip()[:80]!r}") from e
        if raw[:1] != _ED25519 or len(raw) != 33:
            raise CheckpointError("the verifier key is not an Ed25519 key")
        key = cls(name, raw[1:])
        if key.key_id.hex() != key_hash.lower():
            raise CheckpointError(f"the verifier key's hash {key_hash} does not match its name and key")
        return key

    @classmethod
    def load(cls, path_or_text: str | Path) -> VerifierKey:
        """A verifier key from a file, or given as its text."""
        text = str(path_or_text)
        if "+" not in text or os.path.exists(text):
            try:
                text = Path(path_or_text).read_text()
            except OSError as e:
                raise CheckpointError(f"cannot read the verifier key {path_or_text}: {e.strerror}") from None
        return cls.parse(text)


@dataclass(frozen=True)
class SigningKey:
    """The ledger operator's key. Keep its file outside the ledger directory (0600)."""

    name: str
    seed: bytes

    def _private(self) -> Ed25519PrivateKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> VerifierKey:
        from cryptography.hazmat.primitives import serialization

        public = self._private().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return VerifierKey(self.name, public)

    def text(self) -> str:
        key_id = self.verifier.key_id.hex()
        return f"PRIVATE+KEY+{self.name}+{key_id}+{base64.b64encode(_ED25519 + self.seed).decode()}"

    def sign(self, message: bytes) -> bytes:
        return bytes(self._private().sign(message))

    @classmethod
    def load(cls, path: str | Path) -> SigningKey:
        """Read a ``PRIVATE+KEY+NAME+HASH+BASE64`` file (raises ``CheckpointError``)."""
        try:
            text = Path(path).read_text().strip()
        except OSError as e:
            raise CheckpointError(f"cannot read the signing key {path}: {e.strerror}") from None
        try:
            private, key, name, key_hash, blob = text.split("+", 4)
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            raise CheckpointError(f"{path} is not a signing key (PRIVATE+KEY+NAME+HASH+BASE64)") from None
        if (private, key) != ("PRIVATE", "KEY") or raw[:1] != _ED25519 or len(raw) != 33:
            raise CheckpointError(f"{path} is not an Ed25519 signing key")
        signing = cls(name, raw[1:])
        if signing.verifier.key_id.hex() != key_hash.lower():
            raise CheckpointError(f"{path}: the key hash does not match its name and key")
        return signing


def generate_key(name: str) -> SigningKey:
    """A new Ed25519 signing key called ``name``."""
    _check_name(name)
    return SigningKey(name, os.urandom(32))


def sign(checkpoint: Checkpoint, key: SigningKey | None) -> str:
    """The checkpoint as a note, signed by ``key`` (no signature line when None)."""
    body = checkpoint.body()
    if key is None:
        return body
    signature = base64.b64encode(key.verifier.key_id + key.sign(body.encode())).decode()
    return f"{body}\n{_DASH}{key.name} {signature}\n"


def parse_note(text: str) -> tuple[Checkpoint, list[tuple[str, bytes, bytes]]]:
    """The checkpoint and its signatures ``(name, key id, signature)``; raises ``CheckpointError``."""
    body, _, signed = text.partition("\n\n")
    lines = body.removesuffix("\n").split("\n")  # an unsigned note is the body alone, ending in a newline
    if len(lines) < 3:
        raise CheckpointError("not a checkpoint: it needs an origin, a tree size and a root hash")
    origin, size, root_b64, *extensions = lines
    try:
        root = base64.b64decode(root_b64, validate=True)
        tree_size = int(size)
    except ValueError as e:
        raise CheckpointError(f"not a checkpoint: {e}") from None
    if base64.b64encode(root).decode() != root_b64:  # one text for one root: spare bits must be zero
        raise CheckpointError("not a checkpoint: the root hash is not canonical base64")
    if len(root) != 32 or tree_size < 0 or str(tree_size) != size:
        raise CheckpointError("not a checkpoint: the size must be a whole number and the root 32 bytes")
    signatures = []
    for line in signed.splitlines():
        if not line.startswith(_DASH):  # every line after the blank one is a signature
            raise CheckpointError(f"not a signature line: {line[:60]!r}")
        name, _, blob = line[len(_DASH):].rpartition(" ")
        raw = base64.b64decode(blob)
        signatures.append((name, raw[:4], raw[4:]))
    return Checkpoint(origin, tree_size, root, tuple(extensions)), signatures


def verify_note(text: str, key: VerifierKey) -> Checkpoint:
    """The checkpoint, once ``key`` has checked its signature; raises ``CheckpointError``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    checkpoint, signatures = parse_note(text)
    mine = [s for name, key_id, s in signatures if name == key.name and key_id == key.key_id]
    if not mine:
        named = ", ".join(name for name, _, _ in signatures) or "none: it is unsigned"
        raise CheckpointError(f"the checkpoint carries no signature by {key.name} (signed by {named})")
    signed_text = text[:text.index("\n\n") + 1]  # the note's own bytes, never a re-rendering of them
    try:
        Ed25519PublicKey.from_public_bytes(key.public).verify(mine[0], signed_text.encode())
    except InvalidSignature:
        raise CheckpointError(f"the signature by {key.name} does not verify: the checkpoint was altered "
                              "or forged") from None
    return checkpoint


@dataclass(frozen=True)
class InclusionProof:
    """That one envelope is leaf ``leaf_index`` of the tree a checkpoint commits to.

    Its JSON form (``to_json``) holds the envelope itself and the checkpoint note, so
    ``verify_proof`` needs nothing else: no ledger, no ChatSnapshot server."""

    checkpoint: str  # the note the proof is against
    leaf_index: int
    tree_size: int
    path: tuple[bytes, ...]
    envelope: dict[str, object]  # the envelope's JSON form (codec.envelope_to_json)

    def to_json(self) -> dict[str, object]:
        return {"format": PROOF_FORMAT, "checkpoint": self.checkpoint, "leaf_index": self.leaf_index,
                "tree_size": self.tree_size, "path": [base64.b64encode(p).decode() for p in self.path],
                "envelope": self.envelope}

    @classmethod
    def from_json(cls, doc: object) -> InclusionProof:
        if not isinstance(doc, dict) or doc.get("format") != PROOF_FORMAT:
            raise CheckpointError(f"not an inclusion proof (expected format {PROOF_FORMAT!r})")
        try:
            return cls(str(doc["checkpoint"]), int(doc["leaf_index"]), int(doc["tree_size"]),
                       tuple(base64.b64decode(p, validate=True) for p in doc["path"]), dict(doc["envelope"]))
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"the inclusion proof is malformed: {e}") from None


PROOF_FORMAT = "chatsnapshot-inclusion-proof/1"


def verify_proof(proof: InclusionProof, note: str, key: VerifierKey | None) -> Checkpoint:
    """Check, offline, that ``proof.envelope`` is in the ledger ``note`` commits to: the note's
    signature (by ``key``; None skips it, for unsigned checkpoints), the envelope's hash from its
    own fields, and the audit path to the note's root. Returns the checkpoint; raises
    ``CheckpointError`` naming what does not hold."""
    from chatsnapshot.ledger.codec import envelope_from_json
    from chatsnapshot.ledger.merkle import leaf_hash, verify_inclusion
    from chatsnapshot.ledger.records import digest, stored_record

    checkpoint = verify_note(note, key) if key is not None else parse_note(note)[0]
    if proof.tree_size != checkpoint.size:
        raise CheckpointError(f"the proof is for a tree of {proof.tree_size} envelopes, the checkpoint commits "
                              f"to {checkpoint.size}: prove against this checkpoint (prove --checkpoint)")
    try:
        envelope = envelope_from_json(proof.envelope, keep_assigned=True)
        record = stored_record(envelope)
    except ValueError as e:
        raise CheckpointError(f"the proof's envelope is not a stored envelope: {e}") from None
    if digest(record) != record.hash:
        raise CheckpointError("the envelope's hash does not match its fields: the envelope was altered")
    if not verify_inclusion(leaf_hash(record.hash), proof.leaf_index, proof.tree_size, proof.path,
                            checkpoint.root):
        raise CheckpointError(f"the envelope is not leaf {proof.leaf_index} of the tree the checkpoint commits to")
    return checkpoint

"""Signed checkpoints: every tamper, up to a careful forger who recomputes every hash, is caught.

The forger here knows the documented algorithm and has write access to the ledger
directory: it rewrites segments, indexes, the MANIFEST and its tree, and deletes the
checkpoints kept in the directory. Plain ``verify`` cannot tell (and says so); the
auditor's copy of a signed checkpoint can.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chatsnapshot.ledger import Ledger, LedgerOptions
from chatsnapshot.ledger.checkpoint import (
    CheckpointError,
    InclusionProof,
    SigningKey,
    generate_key,
    parse_note,
    sign,
    verify_note,
    verify_proof,
)
from chatsnapshot.ledger.merkle import Frontier, inclusion_proof, leaf_hash, root, verify_inclusion
from tests.helpers import ROOT, make_facts

OPTIONS = LedgerOptions(row_group_rows=16, auto_compact=False, seal_interval=3600)


# -- the tree and the note, alone ------------------------------------------------------------

RFC_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
RFC_ROOTS = [  # RFC 6962 / RFC 9162 test vectors: the root of the first n leaves
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_the_tree_matches_the_rfc_vectors():
    leaves = [leaf_hash(bytes.fromhex(x)) for x in RFC_LEAVES]
    assert [root(leaves[:n]).hex() for n in range(1, 9)] == RFC_ROOTS


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 31, 64, 100])
def test_the_frontier_and_every_audit_path_agree_with_the_tree(n):
    hashes = [hashlib.sha256(bytes([i % 256, i // 256])).digest() for i in range(n)]
    leaves = [leaf_hash(h) for h in hashes]
    frontier = Frontier().extend(hashes[: n // 3]).extend(hashes[n // 3:])  # extended in two seals
    assert frontier.root() == root(leaves) and Frontier.from_json(frontier.to_json()) == frontier
    for i in range(n):
        path = inclusion_proof(leaves, i)
        assert verify_inclusion(leaves[i], i, n, path, frontier.root())
        assert not verify_inclusion(leaf_hash(b"forged"), i, n, path, frontier.root())
        assert not verify_inclusion(leaves[i], (i + 1) % n, n, path, frontier.root()) or n == 1


def test_a_note_verifies_with_its_key_only(tmp_path):
    key, other = generate_key("ops-2026"), generate_key("ops-2026")  # same name, another key
    (tmp_path / "k").write_text(key.text())
    assert SigningKey.load(tmp_path / "k") == key
    note = sign(parse_note("chatsnapshot.ledger/x\n3\n" + "A" * 43 + "=\n")[0], key)
    assert verify_note(note, key.verifier).size == 3
    with pytest.raises(CheckpointError, match="no signature by ops-2026"):
        verify_note(note, other.verifier)  # a forged checkpoint: the key id does not match
    with pytest.raises(CheckpointError, match="altered or forged"):
        verify_note(note.replace("\n3\n", "\n4\n"), key.verifier)
    with pytest.raises(CheckpointError, match="unsigned"):
        verify_note(note.split("\n\n")[0] + "\n", key.verifier)


# -- a real ledger, its checkpoint, and the tampers --------------------------------------------


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A multi-segment ledger, a signing key outside it, and the auditor's copy of a checkpoint."""
    base = tmp_path_factory.mktemp("audited")
    key = generate_key("auditor-test")
    with Ledger.open(base / "ledger", options=OPTIONS) as ledger:
        for _ in range(3):
            ledger.append(make_facts(60, correlations=4, words=20))
            ledger.seal()
        note = ledger.checkpoint(key)
    (base / "checkpoint.note").write_text(note)
    (base / "key.pub").write_text(key.verifier.text())
    return base


@pytest.fixture
def copy(audited, tmp_path):
    shutil.copytree(audited / "ledger", tmp_path / "ledger")
    return tmp_path / "ledger"


def cli(path, *args):
    return subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(path), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def verify_against(audited, path):
    return cli(path, "verify", "--checkpoint", str(audited / "checkpoint.note"), "--key", str(audited / "key.pub"))


def segments(path):
    return json.loads((path / "MANIFEST").read_text())["segments"]


def test_an_untouched_ledger_and_one_that_grew_extend_the_checkpoint(audited, copy):
    assert verify_against(audited, copy).returncode == 0
    with Ledger.open(copy, options=OPTIONS) as ledger:
        ledger.append(make_facts(30, correlations=2))
    done = verify_against(audited, copy)
    assert done.returncode == 0 and "extends the checkpoint of 180 envelopes (signed by auditor-test)" in done.stdout


def _edit_table(path, change):
    entry = segments(path)[1]
    table = pq.read_table(path / entry["file"])
    pq.write_table(change(table), path / entry["file"])


def _set_column(table, name, values):
    return table.set_column(table.schema.get_field_index(name), name, pa.array(values, table.schema.field(name).type))


CARELESS = {
    "payload edited": lambda t: _set_column(t, "payload", [p.replace("plan", "PLAN", 1) for p in
                                                           t.column("payload").to_pylist()]),
    "header field edited": lambda t: _set_column(t, "source_agent", ["mallory"] * t.num_rows),
    "row deleted": lambda t: pa.concat_tables([t.slice(0, 9), t.slice(10)]),
    "row inserted": lambda t: pa.concat_tables([t.slice(0, 10), t.slice(9, 1), t.slice(10)]),
    "row duplicated": lambda t: pa.concat_tables([t, t.slice(t.num_rows - 1, 1)]),
    "rows swapped": lambda t: t.take([1, 0, *range(2, t.num_rows)]),
    "run truncated": lambda t: t.slice(0, t.num_rows - 3),
}


@pytest.mark.parametrize("tamper", list(CARELESS))
def test_a_careless_tamper_is_caught_by_both_checks(audited, copy, tamper):
    _edit_table(copy, CARELESS[tamper])
    plain = cli(copy, "verify")
    assert plain.returncode == 1 and "BROKEN" in plain.stdout, plain.stdout
    done = verify_against(audited, copy)
    assert done.returncode == 1 and "BROKEN" in done.stdout, done.stdout
    if tamper != "rows swapped":  # a swap moves rows in a file, not envelopes in the ledger: the chains name it
        assert "BROKEN checkpoint" in done.stdout, done.stdout


def test_a_deleted_last_segment_is_caught_by_both_checks(audited, copy):
    manifest = json.loads((copy / "MANIFEST").read_text())
    last = manifest["segments"].pop()
    os.remove(copy / last["file"])
    (copy / "MANIFEST").write_text(json.dumps(manifest))
    assert cli(copy, "verify").returncode == 1
    done = verify_against(audited, copy)
    assert done.returncode == 1 and "envelopes were removed" in done.stdout


# -- the careful forger ------------------------------------------------------------------------


def forge(path, edit):
    """Rewrite the whole ledger consistently: ``edit`` changes the envelopes (a list of JSON
    dicts in position order); every seq, position, chain hash, segment, index, the MANIFEST
    with its tree are recomputed, and the checkpoints kept in the directory are deleted."""
    from chatsnapshot.ledger.codec import envelope_from_json, envelope_to_json
    from chatsnapshot.ledger.records import GENESIS, digest, stored_record

    with Ledger.open(path, readonly=True) as reader:
        docs = sorted((envelope_to_json(e) for r in reader.runs() for e in reader.replay(r.correlation_id)),
                      key=lambda d: d["position"])
        ledger_id = json.loads((path / "MANIFEST").read_text())["ledger_id"]
    docs = edit(docs)
    heads: dict[str, tuple[int, bytes]] = {}
    forged = []
    for position, doc in enumerate(docs, 1):
        seq, prev = heads.get(doc["correlation_id"], (0, GENESIS))
        doc = {**doc, "seq": seq + 1, "position": position, "prev_hash": prev.hex(), "hash": "00" * 32}
        record = stored_record(envelope_from_json(doc, keep_assigned=True))
        doc["hash"] = digest(record).hex()
        heads[doc["correlation_id"]] = (seq + 1, bytes.fromhex(doc["hash"]))
        forged.append(doc)
    shutil.rmtree(path)
    _write_ledger(path, [stored_record(envelope_from_json(d, keep_assigned=True)) for d in forged], ledger_id)


def _write_ledger(path, records, ledger_id):
    """One segment, its index and a MANIFEST (with the tree), as the engine writes them."""
    from chatsnapshot.ledger._engine.layout import Layout
    from chatsnapshot.ledger._engine.manifest import Manifest, SegmentEntry, save_manifest
    from chatsnapshot.ledger._engine.segment import records_to_table, write_parquet
    from chatsnapshot.ledger._engine.segment_index import build_index

    layout = Layout(path)
    layout.create_dirs()
    table = records_to_table(records)
    size, sha = write_parquet(table, layout.segment_file(1), row_group_rows=16, compression_level=3, segment=True)
    isize, isha = write_parquet(build_index(table), layout.index_file(1), row_group_rows=1024, compression_level=3,
                                segment=False)
    entry = SegmentEntry(1, layout.relative(layout.segment_file(1)), layout.relative(layout.index_file(1)),
                         len(records), size, sha, isize, isha, 1, len(records))
    tree = Frontier().extend(r.hash for r in records).to_json()
    save_manifest(layout.manifest, Manifest(1, 2, len(records), (entry,), ledger_id=ledger_id, tree=tree))


FORGERIES = {
    "a payload edit, re-chained": lambda docs: [
        {**d, "payload": {**d["payload"], "text": "nothing happened"}} if i == 40 else d for i, d in enumerate(docs)],
    "a whole run rewritten": lambda docs: [
        {**d, "payload": {"i": 0, "text": "forged"}} if d["correlation_id"] == "run-2" else d for d in docs],
    "a run dropped, positions renumbered": lambda docs: [d for d in docs if d["correlation_id"] != "run-1"],
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_consistent_forgery_passes_plain_verify_and_fails_the_checkpoint(audited, copy, forgery):
    forge(copy, FORGERIES[forgery])
    plain = cli(copy, "verify")
    assert plain.returncode == 0 and "not seen by this check" in plain.stdout, plain.stdout  # it says so
    done = verify_against(audited, copy)
    assert done.returncode == 1 and "BROKEN checkpoint" in done.stdout, done.stdout


def test_a_checkpoint_signed_by_another_key_is_refused(audited, copy, tmp_path):
    forger = generate_key("auditor-test")  # the right name, not the right key
    with Ledger.open(copy, readonly=True) as reader:
        (tmp_path / "forged.note").write_text(reader.checkpoint(forger))
    done = cli(copy, "verify", "--checkpoint", str(tmp_path / "forged.note"), "--key", str(audited / "key.pub"))
    assert done.returncode == 1 and "no signature by auditor-test" in done.stdout


# -- inclusion proofs, checked offline ---------------------------------------------------------


def test_an_inclusion_proof_verifies_offline_and_an_altered_one_does_not(audited, copy, tmp_path):
    with Ledger.open(copy, readonly=True) as reader:
        event_id = list(reader.replay("run-3"))[20].event_id
    done = cli(copy, "prove", event_id, "--checkpoint", str(audited / "checkpoint.note"), "-o", str(tmp_path / "p"))
    assert done.returncode == 0, done.stderr
    shutil.rmtree(copy)  # the auditor has no ledger: the proof, the checkpoint and the key are enough
    ok = cli(copy, "verify-proof", str(tmp_path / "p"), "--checkpoint", str(audited / "checkpoint.note"),
             "--key", str(audited / "key.pub"))
    assert ok.returncode == 0 and f"envelope {event_id} is leaf" in ok.stdout, ok.stdout + ok.stderr

    proof = json.loads((tmp_path / "p").read_text())
    note = (audited / "checkpoint.note").read_text()
    altered = {**proof, "envelope": {**proof["envelope"], "payload": {"text": "forged"}}}
    (tmp_path / "altered").write_text(json.dumps(altered))
    no = cli(copy, "verify-proof", str(tmp_path / "altered"), "--key", str(audited / "key.pub"))
    assert no.returncode == 1 and "NOT PROVEN" in no.stdout and "altered" in no.stdout
    rehashed = InclusionProof.from_json(proof)
    with pytest.raises(CheckpointError, match="not leaf"):  # a valid envelope at the wrong place in the tree
        verify_proof(InclusionProof(rehashed.checkpoint, rehashed.leaf_index + 1, rehashed.tree_size,
                                    rehashed.path, rehashed.envelope), note, None)


def test_the_receiver_serves_the_latest_checkpoint(tmp_path):
    from chatsnapshot.receiver.client import LedgerClient
    from tests.receiver.conftest import start_receiver

    key = generate_key("sidecar")
    (tmp_path / "key").write_text(key.text())
    r = start_receiver(tmp_path / "ledger", signing_key=str(tmp_path / "key"))
    try:
        r.ledger.append(make_facts(10, correlations=2))
        r.ledger.seal()
        import urllib.request

        host, port = r.http_address
        with urllib.request.urlopen(f"http://{host}:{port}/checkpoint", timeout=10) as answer:
            over_http = answer.read().decode()
        with LedgerClient(f"127.0.0.1:{r.grpc_port}") as client:
            over_grpc = client.checkpoint()
    finally:
        r.stop(grace=2)
    assert over_http == over_grpc and verify_note(over_http, key.verifier).size == 10


def test_a_note_is_verified_as_written_not_as_re_rendered(audited):
    note = (audited / "checkpoint.note").read_text()
    origin, size, root_line, rest = note.split("\n", 3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    # The 43rd character of a 32-byte root carries 4 bits of it and 2 spare bits: flip a spare one.
    spare = root_line[:-2] + alphabet[alphabet.index(root_line[-2]) ^ 1] + root_line[-1]
    with pytest.raises(CheckpointError):
        verify_note("\n".join([origin, size, spare, rest]), _verifier(audited))


def _verifier(audited):
    from chatsnapshot.ledger.checkpoint import VerifierKey

    return VerifierKey.load(audited / "key.pub")


def test_unsigned_checkpoints_are_kept_apart_from_signed_notes(tmp_path):
    with Ledger.open(tmp_path, options=OPTIONS) as ledger:
        ledger.append(make_facts(5, correlations=1))
        ledger.seal()
        note = ledger.latest_checkpoint()
    (kept,) = (tmp_path / "checkpoints").iterdir()
    assert kept.suffix == ".unsigned" and note == kept.read_text() and "\n\n" not in note

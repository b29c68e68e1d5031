"""Tamper evidence: verify names the first broken (correlation, seq) and exits 1."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from chatsnapshot.ledger import Ledger, LedgerOptions
from tests.helpers import ROOT

OPTIONS = LedgerOptions(row_group_rows=16)


def build(path, facts) -> list:
    with Ledger.open(path, options=OPTIONS) as ledger:
        ledger.append(facts(120, correlations=3, words=40))
    return json.loads((path / "MANIFEST").read_text())["segments"]


def cli_verify(path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(path), "verify", *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def rows_of_group(segment, group):
    table = pq.ParquetFile(segment).read_row_group(group, columns=["correlation_id", "seq"])
    return list(zip(*(c.to_pylist() for c in table.columns), strict=True))


def test_clean_ledger_verifies(tmp_path, facts):
    build(tmp_path, facts)
    done = cli_verify(tmp_path)
    assert done.returncode == 0 and "every chain holds" in done.stdout and "120 envelopes" in done.stdout


def test_flipped_byte_in_a_sealed_payload_is_named_by_correlation_and_seq(tmp_path, facts):
    (entry,) = build(tmp_path, facts)
    segment = tmp_path / entry["file"]
    meta = pq.ParquetFile(segment).metadata
    payload = meta.schema.names.index("payload")
    group = meta.num_row_groups // 2
    chunk = meta.row_group(group).column(payload)
    offset = chunk.data_page_offset + chunk.total_compressed_size // 2
    data = bytearray(segment.read_bytes())
    data[offset] ^= 0x20
    segment.write_bytes(bytes(data))

    done = cli_verify(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    broken = [line for line in done.stdout.splitlines() if line.startswith("BROKEN correlation")]
    assert broken, done.stdout
    in_group = rows_of_group(segment, group)
    for line in broken:
        corr, seq = line.split()[2], int(line.split()[4].rstrip(":"))
        assert (corr, seq) in in_group, f"{line} is not a row of the damaged row group"
    assert "Traceback" not in done.stderr


def test_rewritten_envelope_is_named_exactly(tmp_path, facts):
    (entry,) = build(tmp_path, facts)
    segment = tmp_path / entry["file"]
    table = pq.read_table(segment)
    row = 50
    payloads = table.column("payload").to_pylist()
    payloads[row] = payloads[row].replace("agent", "AGENT", 1)
    forged = table.set_column(table.schema.get_field_index("payload"), "payload",
                              pa.array(payloads, table.schema.field("payload").type))
    pq.write_table(forged, segment)
    corr, seq = table.column("correlation_id")[row].as_py(), table.column("seq")[row].as_py()

    with Ledger.open(tmp_path, readonly=True) as reader:
        report = reader.verify()
    assert [(b.correlation_id, b.seq) for b in report.breaks] == [(corr, seq)]
    assert "altered" in report.breaks[0].reason
    assert any("SHA-256 differs" in p.reason for p in report.problems)
    done = cli_verify(tmp_path, corr)
    assert done.returncode == 1 and f"BROKEN correlation {corr} seq {seq}" in done.stdout


def test_removed_envelope_is_reported_missing(tmp_path, facts):
    (entry,) = build(tmp_path, facts)
    segment = tmp_path / entry["file"]
    table = pq.read_table(segment)
    row = 7
    corr, seq = table.column("correlation_id")[row].as_py(), table.column("seq")[row].as_py()
    pq.write_table(pa.concat_tables([table.slice(0, row), table.slice(row + 1)]), segment)
    with Ledger.open(tmp_path, readonly=True) as reader:
        breaks = reader.verify(corr).breaks
    assert [(b.correlation_id, b.seq) for b in breaks] == [(corr, seq)] and "missing" in breaks[0].reason

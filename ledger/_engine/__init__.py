"""The storage engine behind ``Ledger`` and ``LedgerReader``: private to ``chatsnapshot.ledger``.

Nothing outside ``chatsnapshot.ledger`` imports from here (a test walks the
imports). The directory it keeps is described, file by file, in ``layout``.

==================  ====================================================================
``engine``          ``WritingEngine`` and ``ReadingEngine``: what the facade calls
``opening``         assembling a writer (lock, recover, start the background threads)
                    or a reader over a directory
``lock``            the writer's ``flock`` on ``LOCK``, naming its holder
``writer``          the commit path: sequencing, hash chain, WAL write, group commit;
                    owns its commit lock and the state it guards
``wal``             write-ahead log files and their framing
``buffer``          committed records not sealed yet
``sealing``         unsealed records -> a Parquet segment + index -> MANIFEST
``segment``         the Parquet schemas of segments and indexes
``catalog``         the open segments, their indexes and id fingerprints
``manifest``        the MANIFEST: which segments are live, replaced atomically
``compaction``      merging adjacent small segments (``merge``: the streaming merge)
``recovery``        what opening does with a torn WAL, damaged files and leftovers
``snapshot``        a consistent read: segments + unsealed buffers + durable position
``sqlviews``        DuckDB views over a snapshot
``verify``          recomputing chains and checking files
``deadletters``     the dead-letter file
``allocator``       giving freed memory back to the operating system
==================  ====================================================================
"""

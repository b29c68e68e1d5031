"""The wire contract, at the bottom of the import graph: nothing here imports ChatSnapshot.

===================================  ==============================================================
``chatsnapshot.proto.attributes``    the ``chatsnapshot.*`` span and log attribute names that
                                     producers (``record()``, the instrumentors) and promotion share
``chatsnapshot/v1/envelope.proto``   the envelope as protobuf (``envelope_pb2``)
``chatsnapshot/v1/ledger_service``   the LedgerService query API: Replay, Tail, Verify
``.proto``                           (``ledger_service_pb2``, ``ledger_service_pb2_grpc``)
``chatsnapshot.proto.generate``      regenerates the modules (``make proto``); a test checks that
                                     they are current
===================================  ==============================================================

The ``.proto`` sources live in ``chatsnapshot/v1/`` below this package (so that
other languages import them as ``chatsnapshot/v1/envelope.proto``); the generated
modules sit next to them, e.g. ``chatsnapshot.proto.chatsnapshot.v1.envelope_pb2``.
"""

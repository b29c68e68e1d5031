"""Protocol buffer definitions of ChatSnapshot and their generated Python modules.

The ``.proto`` sources live in ``chatsnapshot/v1/`` below this package (so that
other languages import them as ``chatsnapshot/v1/envelope.proto``); the generated
modules sit next to them, e.g. ``chatsnapshot.proto.chatsnapshot.v1.envelope_pb2``.
Regenerate with ``python -m chatsnapshot.proto.generate`` (``make proto``).
"""

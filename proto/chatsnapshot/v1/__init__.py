"""``chatsnapshot.v1``: ``envelope.proto`` and ``ledger_service.proto``, and their generated modules."""

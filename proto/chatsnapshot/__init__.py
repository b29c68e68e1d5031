"""The ``chatsnapshot`` protobuf package, as other languages import it (``chatsnapshot/v1/...``)."""

"""Regenerate the Python modules for the ``.proto`` files under ``proto/``.

Run ``python -m chatsnapshot.proto.generate`` (or ``make proto``) after editing a
``.proto`` file, and commit the result. Needs ``grpcio-tools`` (the ``test`` extra).

The ``.proto`` files import each other by their path below ``proto/``
(``chatsnapshot/v1/envelope.proto``), as every other language's build will. protoc
therefore writes Python imports such as ``from chatsnapshot.v1 import envelope_pb2``;
in this distribution that package lives at ``chatsnapshot.proto.chatsnapshot.v1``,
so the generated imports are rewritten to that path.

``descriptor_set(proto_root)`` compiles the sources into a ``FileDescriptorSet``;
the freshness test compares it with the descriptors embedded in the committed
modules, so it fails when a ``.proto`` was edited without regenerating.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

__all__ = ["PROTO_ROOT", "descriptor_set", "generate", "proto_sources"]

PROTO_ROOT = Path(__file__).resolve().parent
_IMPORT = re.compile(r"^from chatsnapshot\.v1 import ", re.MULTILINE)
_PACKAGE = "chatsnapshot.proto.chatsnapshot.v1"


def proto_sources(proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Every ``.proto`` file below ``proto_root``, sorted, relative to it."""
    return sorted(p.relative_to(proto_root) for p in proto_root.rglob("*.proto"))


def _protoc(args: list[str]) -> None:
    try:
        from grpc_tools import protoc  # type: ignore[import-untyped]
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise SystemExit("grpcio-tools is not installed: pip install -e '.[test]'") from e
    import grpc_tools

    include = str(Path(grpc_tools.__file__).parent / "_proto")
    code = protoc.main(["grpc_tools.protoc", f"-I{include}", *args])
    if code != 0:
        raise SystemExit(f"protoc failed (exit {code}) for: {' '.join(args)}")


def descriptor_set(proto_root: Path = PROTO_ROOT) -> bytes:
    """Compile every ``.proto`` below ``proto_root`` into a serialized FileDescriptorSet."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        _protoc([f"-I{proto_root}", f"--descriptor_set_out={out}", *map(str, proto_sources(proto_root))])
        return out.read_bytes()


def generate(proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Write ``*_pb2.py``, ``*_pb2.pyi`` and ``*_pb2_grpc.py`` next to each ``.proto``."""
    sources = [str(s) for s in proto_sources(proto_root)]
    _protoc([f"-I{proto_root}", f"--python_out={proto_root}", f"--pyi_out={proto_root}",
             f"--grpc_python_out={proto_root}", *sources])
    written = []
    for path in sorted(p for p in proto_root.rglob("*_pb2*.py*") if p.suffix in (".py", ".pyi")):
        text = path.read_text()
        fixed = _IMPORT.sub(f"from {_PACKAGE} import ", text)
        if path.name.endswith("_pb2_grpc.py") and "rpc " not in _source_for(path).read_text():
            path.unlink()  # a file without services needs no stub module
            continue
        if fixed != text:
            path.write_text(fixed)
        written.append(path)
    return written


def _source_for(generated: Path) -> Path:
    stem = generated.name.split("_pb2")[0]
    return generated.with_name(f"{stem}.proto")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    for path in generate():
        print(path.relative_to(PROTO_ROOT.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())

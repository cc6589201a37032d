"""Regenerate the Python code for the vendored upstream .proto files.

The upstream files import each other as ``github.com/openconfig/...``, which is not
an importable Python package name. We compile them under their upstream names (so
descriptors, reflection and the wire stay identical to upstream) and then rewrite
only the Python import statements, mapping ``github.com/openconfig/X`` to ``protos/X``.

Usage: ``python protos/generate.py`` (from anywhere). ``--out DIR`` writes the tree
somewhere else, which the test suite uses to compare against the committed code.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from google.rpc import status_pb2
from grpc_tools import protoc

PROTOS_DIR = Path(__file__).resolve().parent
PROTO_FILES = (
    "github.com/openconfig/gnoi/types/types.proto",
    "github.com/openconfig/gnoi/common/common.proto",
    "github.com/openconfig/gnoi/containerz/containerz.proto",
    "github.com/openconfig/gnoi/system/system.proto",
    "github.com/openconfig/gnmi/proto/gnmi_ext/gnmi_ext.proto",
    "github.com/openconfig/gnmi/proto/gnmi/gnmi.proto",
)
# containerz-py's own protocols, compiled from protos/ into protos/ with imports made absolute.
OWN_PROTO_FILES = ("containerz/peer.proto",)
_UPSTREAM_IMPORT = re.compile(r"\bgithub\.com\.openconfig\.")
_OWN_IMPORT = re.compile(r"^from containerz import", re.MULTILINE)


def _include_dirs() -> list[str]:
    """Where protoc finds google/protobuf/* (grpcio-tools) and google/rpc/* (googleapis)."""
    googleapis_root = Path(status_pb2.__file__).resolve().parents[2]
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    return [str(PROTOS_DIR), str(googleapis_root), str(well_known)]


def generate(out_dir: Path) -> None:
    """Compile every vendored .proto into ``out_dir`` as the ``protos`` package layout."""
    with tempfile.TemporaryDirectory() as scratch:
        args = ["protoc", *(f"-I{d}" for d in _include_dirs())]
        args += [f"--python_out={scratch}", f"--pyi_out={scratch}", f"--grpc_python_out={scratch}"]
        args += list(PROTO_FILES)
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed; see the messages above")
        generated_root = Path(scratch) / "github" / "com" / "openconfig"
        for source in sorted(generated_root.rglob("*.py*")):
            target = out_dir / source.relative_to(generated_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_UPSTREAM_IMPORT.sub("protos.", source.read_text()))
    with tempfile.TemporaryDirectory() as scratch:
        args = ["protoc", *(f"-I{d}" for d in _include_dirs())]
        args += [f"--python_out={scratch}", f"--pyi_out={scratch}", f"--grpc_python_out={scratch}"]
        args += list(OWN_PROTO_FILES)
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed on our own .proto files; see the messages above")
        for source in sorted(Path(scratch).rglob("*.py*")):
            target = out_dir / source.relative_to(scratch)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_OWN_IMPORT.sub("from protos.containerz import", source.read_text()))
    for module in out_dir.rglob("*_pb2.py"):
        directory = module.parent
        while directory != out_dir:
            (directory / "__init__.py").touch()
            directory = directory.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=PROTOS_DIR, help="output root (default: protos/)")
    args = parser.parse_args(argv)
    for stale in ("gnoi", "gnmi"):
        if args.out == PROTOS_DIR and (PROTOS_DIR / stale).exists():
            shutil.rmtree(PROTOS_DIR / stale)
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

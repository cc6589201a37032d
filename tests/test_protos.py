"""The committed generated code must match the vendored .proto files."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[1]
MODULES = {
    "github.com/openconfig/gnoi/types/types.proto": "protos.gnoi.types.types_pb2",
    "github.com/openconfig/gnoi/common/common.proto": "protos.gnoi.common.common_pb2",
    "github.com/openconfig/gnoi/containerz/containerz.proto": "protos.gnoi.containerz.containerz_pb2",
    "github.com/openconfig/gnoi/system/system.proto": "protos.gnoi.system.system_pb2",
    "github.com/openconfig/gnmi/proto/gnmi_ext/gnmi_ext.proto": "protos.gnmi.proto.gnmi_ext.gnmi_ext_pb2",
    "github.com/openconfig/gnmi/proto/gnmi/gnmi.proto": "protos.gnmi.proto.gnmi.gnmi_pb2",
    "containerz/peer.proto": "protos.containerz.peer_pb2",
}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("regenerated")
    subprocess.run([sys.executable, str(ROOT / "protos" / "generate.py"), "--out", str(out)], check=True)
    return out


def _descriptor_from_source(proto: str, tmp_path: Path) -> descriptor_pb2.FileDescriptorProto:
    from grpc_tools import protoc

    sys.path.insert(0, str(ROOT / "protos"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    descriptor_set = tmp_path / "set.pb"
    args = ["protoc", *(f"-I{d}" for d in generate._include_dirs()), f"--descriptor_set_out={descriptor_set}", proto]
    assert protoc.main(args) == 0
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    return files.file[0]


@pytest.mark.parametrize("proto", sorted(MODULES))
def test_generated_descriptor_matches_proto_source(proto: str, tmp_path: Path) -> None:
    module = importlib.import_module(MODULES[proto])
    committed = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
    from_source = _descriptor_from_source(proto, tmp_path)
    _clear_json_names(from_source.message_type)  # protoc's Python output never embeds them
    for extension in from_source.extension:
        extension.ClearField("json_name")
    assert committed == from_source


def _clear_json_names(messages: object) -> None:
    for message in messages:  # type: ignore[attr-defined]
        for field in message.field:
            field.ClearField("json_name")
        _clear_json_names(message.nested_type)


def test_regenerated_tree_has_the_same_files_and_services(regenerated: Path) -> None:
    committed = {p.relative_to(ROOT / "protos") for p in (ROOT / "protos").rglob("*_pb2*.py*")}
    fresh = {p.relative_to(regenerated) for p in regenerated.rglob("*_pb2*.py*")}
    assert committed == fresh
    for relative in sorted(p for p in fresh if p.name.endswith("_grpc.py")):
        assert _service_lines(regenerated / relative) == _service_lines(ROOT / "protos" / relative), relative


def _service_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if "'/gnoi." in line or "'/gnmi." in line]


def test_vendored_protos_name_their_upstream_commit() -> None:
    for proto in (p for p in MODULES if p.startswith("github.com/")):
        first_line = (ROOT / "protos" / proto).read_text().splitlines()[0]
        assert first_line.startswith("// Copied verbatim from github.com/openconfig/"), proto
        assert "at commit " in first_line


def test_wire_names_are_upstream_package_names() -> None:
    from protos.gnoi.containerz import containerz_pb2
    from protos.gnoi.system import system_pb2

    assert containerz_pb2.DESCRIPTOR.services_by_name["Containerz"].full_name == "gnoi.containerz.Containerz"
    assert system_pb2.DESCRIPTOR.services_by_name["System"].full_name == "gnoi.system.System"

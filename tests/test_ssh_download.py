"""Deploy with remote_download over SFTP and SCP from a real OpenSSH server on loopback."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from protos.gnoi.common import common_pb2
from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from protos.gnoi.types import types_pb2
from tests.conftest import BusyboxImages, free_port
from tests.support.client import error_of
from tests.support.server import ServerProcess

pytestmark = pytest.mark.engine

Stub = containerz_pb2_grpc.ContainerzStub
USER = "czdownload"
PASSWORD = "test-download-password"


def _ensure_user() -> Path:
    if subprocess.run(["id", USER], capture_output=True, check=False).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True)
    subprocess.run(["chpasswd"], input=f"{USER}:{PASSWORD}\n", text=True, check=True)
    return Path(f"/home/{USER}")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    directory = tmp_path_factory.mktemp("sshd")
    _ensure_user()
    host_key = directory / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"PidFile {directory / 'sshd.pid'}",
                "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                f"AllowUsers {USER}",
                "Subsystem sftp internal-sftp",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    process = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while subprocess.run(
        ["bash", "-c", f"echo > /dev/tcp/127.0.0.1/{port}"], capture_output=True, check=False
    ).returncode:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "sshd did not start listening"
        time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def published(test_images: BusyboxImages) -> str:
    """The long-running test image, readable by the download user."""
    target = Path(f"/home/{USER}/image.tar")
    shutil.copyfile(test_images.long_running, target)
    shutil.chown(target, USER)
    return str(target)


def _deploy(stub: Stub, name: str, protocol: int, path: str, password: str = PASSWORD) -> list[pb.DeployResponse]:
    remote = common_pb2.RemoteDownload(
        path=path, protocol=protocol, credentials=types_pb2.Credentials(username=USER, cleartext=password)
    )
    request = pb.DeployRequest(image_transfer=pb.ImageTransfer(name=name, tag="v1", remote_download=remote))
    return list(stub.Deploy(iter([request]), timeout=120))


@pytest.mark.parametrize("protocol", [common_pb2.RemoteDownload.SFTP, common_pb2.RemoteDownload.SCP])
def test_download_over_ssh_loads_a_runnable_image(
    stub: Stub, sshd: int, published: str, unique: Callable[[str], str], protocol: int
) -> None:
    name = unique("ssh")
    scheme = "sftp" if protocol == common_pb2.RemoteDownload.SFTP else "scp"
    responses = _deploy(stub, name, protocol, f"{scheme}://127.0.0.1:{sshd}{published}")
    assert responses[-1].image_transfer_success.name == name
    assert all(r.WhichOneof("response") == "image_transfer_progress" for r in responses[:-1])
    assert (name, "v1") in {(i.image_name, i.tag) for i in stub.ListImage(pb.ListImageRequest())}
    started = stub.StartContainer(pb.StartContainerRequest(image_name=name, tag="v1", instance_name=unique("sshc")))
    assert started.start_ok.instance_name


def test_ssh_download_errors(
    stub: Stub, sshd: int, published: str, unique: Callable[[str], str], server: ServerProcess
) -> None:
    sftp = common_pb2.RemoteDownload.SFTP
    url = f"sftp://127.0.0.1:{sshd}"
    wrong_password = error_of(lambda: _deploy(stub, unique("ssh-pw"), sftp, url + published, password="wrong"))
    assert wrong_password.code() is grpc.StatusCode.PERMISSION_DENIED
    missing = error_of(lambda: _deploy(stub, unique("ssh-missing"), sftp, f"{url}/home/{USER}/absent.tar"))
    assert missing.code() is grpc.StatusCode.NOT_FOUND
    closed = error_of(lambda: _deploy(stub, unique("ssh-closed"), sftp, f"sftp://127.0.0.1:{free_port()}/x.tar"))
    assert closed.code() is grpc.StatusCode.UNAVAILABLE
    malformed = error_of(lambda: _deploy(stub, unique("ssh-bad"), sftp, "no-path-here"))
    assert malformed.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert not [p for p in (server.data_dir / "uploads").iterdir() if ".part" in p.name]

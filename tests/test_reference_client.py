"""Interoperability with the reference CLI of github.com/openconfig/containerz, driven as an operator would.

scripts/install_refclient.sh builds it with `go install` at a pinned commit. If Go or the module proxy
fails, these tests fail with the script's output: they are never skipped.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import LONG_RUNNING_CMD
from tests.support.client import eventually
from tests.support.images import build_image_tar
from tests.support.server import ROOT, ServerProcess

INSTALL_TIMEOUT_SECONDS = 540
# A cold `go install` (module downloads and a full build) counts against the first test's timeout.
pytestmark = [pytest.mark.engine, pytest.mark.timeout(INSTALL_TIMEOUT_SECONDS + 60)]

Stub = containerz_pb2_grpc.ContainerzStub
INSTALL_SCRIPT = ROOT / "scripts" / "install_refclient.sh"
CLI_TIMEOUT_SECONDS = 60
TAG = "v1"


@dataclass(frozen=True)
class RefCli:
    binary: Path
    address: str

    def argv(self, *args: str) -> list[str]:
        return [str(self.binary), "--addr", self.address, *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=CLI_TIMEOUT_SECONDS,
            check=False,
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, describe(done)
        return done.stdout

    def fails(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 1, describe(done)
        return done.stderr


def describe(done: subprocess.CompletedProcess[str]) -> str:
    return f"{done.args} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"


def run_on_tty(argv: list[str], timeout: float) -> tuple[int, str, str]:
    """Run with stdout on a pseudo-terminal: `image push` reports only to a terminal (its spinner)."""
    primary, secondary = os.openpty()
    output = bytearray()
    deadline = time.monotonic() + timeout
    with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE) as process:
        os.close(secondary)
        try:
            while time.monotonic() < deadline:
                readable, _, _ = select.select([primary], [], [], 0.2)
                if not readable:
                    continue
                try:
                    data = os.read(primary, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                output += data
            else:
                process.kill()
        finally:
            os.close(primary)
        assert process.stderr is not None
        errors = process.stderr.read().decode(errors="replace")
        code = process.wait(timeout=10)
    return code, output.decode(errors="replace"), errors


def table(stdout: str) -> list[list[str]]:
    """The rows (header dropped) of a CLI listing, printed by a tabwriter that pads with tabs."""
    lines = [line.strip("\t") for line in stdout.splitlines() if line.strip()]
    return [re.split(r"\t+", line) for line in lines[1:]]


def rows_named(stdout: str, column: int, name: str) -> list[list[str]]:
    return [row for row in table(stdout) if len(row) > column and row[column] == name]


def container_entry(stub: Stub, name: str) -> pb.ListContainerResponse | None:
    return next((c for c in stub.ListContainer(pb.ListContainerRequest(all=True)) if c.name == name), None)


@pytest.fixture(scope="module")
def refclient_binary() -> Path:
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{INSTALL_SCRIPT} took over {INSTALL_TIMEOUT_SECONDS}s:\n{exc.stdout!r}\n{exc.stderr!r}", pytrace=False
        )
    if done.returncode != 0:
        pytest.fail(f"{INSTALL_SCRIPT} failed:\n{describe(done)}", pytrace=False)
    print(f"install_refclient.sh took {time.monotonic() - started:.1f}s")
    binary = Path(done.stdout.strip().splitlines()[-1])
    assert binary.is_file() and os.access(binary, os.X_OK), describe(done)
    return binary


@pytest.fixture(scope="module")
def cli(refclient_binary: Path, server: ServerProcess) -> RefCli:
    return RefCli(refclient_binary, server.address)


@pytest.fixture(scope="module")
def pushed(cli: RefCli, tmp_path_factory: pytest.TempPathFactory, unique: Callable[[str], str]) -> str:
    """An image pushed by `image push`, tagged TAG; the tarball's own name is not what gets applied."""
    tarball = tmp_path_factory.mktemp("refclient") / "image.tar"
    build_image_tar(tarball, "pushed-by-refclient", cmd=LONG_RUNNING_CMD)
    name = unique("ref-img")
    code, terminal, errors = run_on_tty(
        cli.argv("image", "push", "--image", name, "--tag", TAG, "--file", str(tarball)), CLI_TIMEOUT_SECONDS
    )
    assert code == 0, f"push exited {code}\nterminal:\n{terminal}\nstderr:\n{errors}"
    assert f"Pushed {name}/{TAG}" in terminal, terminal
    return name


def test_help_documents_the_flags_these_tests_use(cli: RefCli) -> None:
    assert "--addr string" in cli.ok("--help")
    start_help = cli.ok("container", "start", "--help")
    for flag in ("--image", "--tag", "--instance", "--command", "--env", "--labels", "--volume"):
        assert flag in start_help, start_help
    create_help = cli.ok("volume", "create", "--help")
    for flag in ("--name", "--driver", "--options", "--labels"):
        assert flag in create_help, create_help


def test_image_push_then_list(cli: RefCli, pushed: str, stub: Stub, docker_api: docker.APIClient) -> None:
    rows = rows_named(cli.ok("image", "list"), 1, pushed)
    image_id = docker_api.inspect_image(f"{pushed}:{TAG}")["Id"]
    assert rows == [[image_id, pushed, TAG]]
    assert (pushed, TAG) in {(i.image_name, i.tag) for i in stub.ListImage(pb.ListImageRequest())}


def test_container_start_list_logs_stop_remove(
    cli: RefCli, pushed: str, stub: Stub, docker_api: docker.APIClient, unique: Callable[[str], str]
) -> None:
    instance = unique("ref-ctr")
    command = "/bin/sh -c 'echo hello-from-ref; sleep 300'"
    started = cli.ok(
        "container", "start",
        "--image", pushed, "--tag", TAG, "--instance", instance, "--command", command,
        "--env", "GREETING=hi", "--labels", "owner=refclient",
    )  # fmt: skip
    assert started == f"Container started with id - {instance}\n"
    inspected = docker_api.inspect_container(instance)
    assert inspected["Config"]["Cmd"] == ["/bin/sh", "-c", "echo hello-from-ref; sleep 300"]
    assert "GREETING=hi" in inspected["Config"]["Env"]
    assert inspected["Config"]["Labels"]["owner"] == "refclient"
    assert inspected["State"]["Running"]

    assert rows_named(cli.ok("container", "list"), 1, instance) == [
        [inspected["Id"][:5], instance, f"{pushed}:{TAG}", "RUNNING"]
    ]
    assert eventually(lambda: "hello-from-ref" in cli.ok("container", "logs", "--instance", instance))

    assert cli.ok("container", "stop", "--instance", instance) == f"Successfully stopped {instance}\n"
    assert not docker_api.inspect_container(instance)["State"]["Running"]
    assert rows_named(cli.ok("container", "list"), 1, instance) == []
    assert [row[3] for row in rows_named(cli.ok("container", "list", "--all"), 1, instance)] == ["STOPPED"]
    entry = container_entry(stub, instance)
    assert entry is not None and entry.status == pb.ListContainerResponse.STOPPED

    assert cli.ok("container", "remove", "--instance", instance) == f"Successfully removed {instance}\n"
    with pytest.raises(docker.errors.NotFound):
        docker_api.inspect_container(instance)
    assert rows_named(cli.ok("container", "list", "--all"), 1, instance) == []


def test_container_logs_keep_line_breaks(cli: RefCli, pushed: str, unique: Callable[[str], str]) -> None:
    instance = unique("ref-lines")
    command = "/bin/sh -c 'echo one; echo two; echo three; sleep 300'"
    cli.ok("container", "start", "--image", pushed, "--tag", TAG, "--instance", instance, "--command", command)
    try:
        assert eventually(lambda: "three" in cli.ok("container", "logs", "--instance", instance))
        assert cli.ok("container", "logs", "--instance", instance) == "one\ntwo\nthree\n"
    finally:
        cli.ok("container", "remove", "--instance", instance, "--force")


def create_bind_volume(cli: RefCli, volume: str, directory: Path) -> str:
    return cli.ok(
        "volume", "create", "--name", volume, "--driver", "local",
        "-o", "type=none", "-o", "options=bind", "-o", f"mountpoint={directory}", "--labels", "purpose=refclient",
    )  # fmt: skip


def test_volume_create_list_remove(
    cli: RefCli, stub: Stub, docker_api: docker.APIClient, unique: Callable[[str], str], tmp_path: Path
) -> None:
    volume = unique("ref-vol")
    assert create_bind_volume(cli, volume, tmp_path) == f'Volume "{volume}" created!\n'
    inspected = docker_api.inspect_volume(volume)
    assert inspected["Options"] == {"type": "none", "o": "bind", "device": str(tmp_path)}
    assert inspected["Labels"] == {"purpose": "refclient"}

    rows = rows_named(cli.ok("volume", "list"), 0, volume)
    assert len(rows) == 1, rows
    assert rows[0][1] == "local"
    assert f"device:{tmp_path}" in rows[0][2] and "o:bind" in rows[0][2] and "type:none" in rows[0][2]
    assert rows[0][3] == "map[purpose:refclient]"
    assert volume in {v.name for v in stub.ListVolume(pb.ListVolumeRequest())}

    assert cli.ok("volume", "remove", "--name", volume) == f'Successfully removed volume "{volume}"\n'
    with pytest.raises(docker.errors.NotFound):
        docker_api.inspect_volume(volume)
    assert rows_named(cli.ok("volume", "list"), 0, volume) == []


def test_container_writes_through_a_bind_volume(
    cli: RefCli, pushed: str, unique: Callable[[str], str], tmp_path: Path
) -> None:
    volume = unique("ref-vol-mounted")
    create_bind_volume(cli, volume, tmp_path)
    writer = unique("ref-vol-writer")
    cli.ok(
        "container", "start", "--image", pushed, "--tag", TAG, "--instance", writer,
        "--volume", f"{volume}:/data", "--command", "/bin/sh -c 'echo written-through-volume > /data/proof'",
    )  # fmt: skip
    proof = tmp_path / "proof"
    assert eventually(lambda: proof.exists() and proof.read_text() == "written-through-volume\n")

    cli.ok("container", "remove", "--instance", writer, "--force")
    cli.ok("volume", "remove", "--name", volume)
    assert proof.read_text() == "written-through-volume\n", "removing a bind volume leaves the host directory"


def test_errors_reach_the_operator_with_code_and_message(cli: RefCli, unique: Callable[[str], str]) -> None:
    missing = unique("ref-missing")
    stderr = cli.fails(
        "container", "start", "--image", missing, "--tag", TAG, "--instance", missing, "--command", "true"
    )
    assert "code = NotFound" in stderr and f"{missing}:{TAG} not found" in stderr, stderr

    stderr = cli.fails("container", "logs", "--instance", missing)
    assert "code = NotFound" in stderr and missing in stderr, stderr

    stderr = cli.fails("container", "stop", "--instance", missing)
    assert "code = NotFound" in stderr and missing in stderr, stderr

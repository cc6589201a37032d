"""With the Docker engine down the server keeps serving: every RPC that needs the engine fails
fast with UNAVAILABLE naming the engine, health says NOT_SERVING, and when the engine comes
back the same server process recovers on its own.

"Down" is a ``unix://`` socket path where nothing listens; "back" is a small proxy started
at that path, forwarding to the session's real engine.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.support.client import LockStepDeploy, deploy_file, error_of
from tests.support.server import ServerProcess

pytestmark = pytest.mark.engine

Stub = containerz_pb2_grpc.ContainerzStub
CONTAINERZ_SERVICE = "gnoi.containerz.Containerz"
FAST_ENOUGH_SECONDS = 2.0
RECOVERY_SECONDS = 5.0
CALL_TIMEOUT_SECONDS = 10.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


# ---------------------------------------------------------------------- a unix socket proxy


class UnixSocketProxy:
    """Listen on a unix socket; forward every connection, byte for byte, to another one."""

    def __init__(self, listen: Path, target: Path) -> None:
        self._listen = listen
        self._target = target
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> UnixSocketProxy:
        self._listener.bind(str(self._listen))
        self._listener.listen(64)
        threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True).start()
        return self

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
        self._listen.unlink(missing_ok=True)

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(str(self._target))
            except OSError:
                client.close()
                upstream.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), name="proxy-pump", daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


# ---------------------------------------------------------------------- fixtures


@dataclass
class DownServer:
    process: ServerProcess
    socket_path: Path
    docker_host: str
    stub: Stub
    health: health_pb2_grpc.HealthStub


@pytest.fixture(scope="module")
def down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DownServer]:
    # A short directory of our own: unix socket paths are limited to 107 bytes.
    socket_dir = Path(tempfile.mkdtemp(prefix="cz-down-", dir="/tmp"))
    socket_path = socket_dir / "docker.sock"
    docker_host = f"unix://{socket_path}"
    process = ServerProcess(docker_host, tmp_path_factory.mktemp("engine-down") / "data").start()
    try:
        with grpc.insecure_channel(process.address) as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            yield DownServer(
                process, socket_path, docker_host, containerz_pb2_grpc.ContainerzStub(channel), _health(channel)
            )
    finally:
        process.stop()
        shutil.rmtree(socket_dir, ignore_errors=True)


def _health(channel: grpc.Channel) -> health_pb2_grpc.HealthStub:
    return health_pb2_grpc.HealthStub(channel)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def plugin_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny plugin root filesystem tarball; deploying it only touches the server's disk."""
    path = tmp_path_factory.mktemp("plugin") / "rootfs.tar"
    with tarfile.open(path, "w") as archive:
        body = b"#!/bin/sh\nexit 0\n"
        info = tarfile.TarInfo("bin/plugin")
        info.size = len(body)
        info.mode = 0o755
        archive.addfile(info, io.BytesIO(body))
    return path


def status_of(health: health_pb2_grpc.HealthStub, service: str) -> int:
    return int(health.Check(health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT_SECONDS).status)


# ---------------------------------------------------------------------- while the engine is down


def test_health_is_not_serving_while_the_engine_is_down(down: DownServer) -> None:
    assert status_of(down.health, "") == NOT_SERVING
    assert status_of(down.health, CONTAINERZ_SERVICE) == NOT_SERVING


def _deploy_image(stub: Stub, unique: Callable[[str], str]) -> None:
    stream = LockStepDeploy(stub, timeout=CALL_TIMEOUT_SECONDS)
    try:
        stream.send(pb.DeployRequest(image_transfer=pb.ImageTransfer(name=unique("img"), tag="v1", image_size=4096)))
        stream.receive()  # must fail before ImageTransferReady: the client would stream the image for nothing
    finally:
        stream.close_send()


def _start_params(unique: Callable[[str], str]) -> pb.StartContainerRequest:
    return pb.StartContainerRequest(image_name=unique("img"), tag="v1", cmd="/bin/sh -c 'sleep 1'")


CALLS: dict[str, Callable[[Stub, Callable[[str], str]], object]] = {
    "Deploy": _deploy_image,
    "ListImage": lambda stub, u: list(stub.ListImage(pb.ListImageRequest(), timeout=CALL_TIMEOUT_SECONDS)),
    "RemoveImage": lambda stub, u: stub.RemoveImage(
        pb.RemoveImageRequest(name=u("img"), tag="v1"), timeout=CALL_TIMEOUT_SECONDS
    ),
    "StartContainer": lambda stub, u: stub.StartContainer(
        pb.StartContainerRequest(image_name=u("img"), tag="v1", instance_name=u("ctr")), timeout=CALL_TIMEOUT_SECONDS
    ),
    "StopContainer": lambda stub, u: stub.StopContainer(
        pb.StopContainerRequest(instance_name=u("ctr")), timeout=CALL_TIMEOUT_SECONDS
    ),
    "UpdateContainer": lambda stub, u: stub.UpdateContainer(
        pb.UpdateContainerRequest(instance_name=u("ctr"), params=_start_params(u)), timeout=CALL_TIMEOUT_SECONDS
    ),
    "RemoveContainer": lambda stub, u: stub.RemoveContainer(
        pb.RemoveContainerRequest(name=u("ctr")), timeout=CALL_TIMEOUT_SECONDS
    ),
    "ListContainer": lambda stub, u: list(
        stub.ListContainer(pb.ListContainerRequest(all=True), timeout=CALL_TIMEOUT_SECONDS)
    ),
    "Log": lambda stub, u: list(stub.Log(pb.LogRequest(instance_name=u("ctr")), timeout=CALL_TIMEOUT_SECONDS)),
    "CreateVolume": lambda stub, u: stub.CreateVolume(
        pb.CreateVolumeRequest(name=u("vol")), timeout=CALL_TIMEOUT_SECONDS
    ),
    "RemoveVolume": lambda stub, u: stub.RemoveVolume(
        pb.RemoveVolumeRequest(name=u("vol")), timeout=CALL_TIMEOUT_SECONDS
    ),
    "ListVolume": lambda stub, u: list(stub.ListVolume(pb.ListVolumeRequest(), timeout=CALL_TIMEOUT_SECONDS)),
    "StopPlugin": lambda stub, u: stub.StopPlugin(
        pb.StopPluginRequest(instance_name=u("plg")), timeout=CALL_TIMEOUT_SECONDS
    ),
    "ListPlugins": lambda stub, u: stub.ListPlugins(pb.ListPluginsRequest(), timeout=CALL_TIMEOUT_SECONDS),
    "RemovePlugin": lambda stub, u: stub.RemovePlugin(
        pb.RemovePluginRequest(instance_name=u("plg")), timeout=CALL_TIMEOUT_SECONDS
    ),
}


def assert_fast_unavailable(call: Callable[[], object], docker_host: str) -> None:
    started = time.monotonic()
    error = error_of(call)
    elapsed = time.monotonic() - started
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
    assert docker_host in (error.details() or ""), error.details()
    assert elapsed < FAST_ENOUGH_SECONDS, f"answered after {elapsed:.2f}s"


@pytest.mark.parametrize("rpc", sorted(CALLS))
def test_rpc_that_needs_the_engine_answers_unavailable_fast(
    down: DownServer, unique: Callable[[str], str], rpc: str
) -> None:
    assert_fast_unavailable(lambda: CALLS[rpc](down.stub, unique), down.docker_host)


def test_start_plugin_of_a_deployed_tarball_answers_unavailable_fast(
    down: DownServer, unique: Callable[[str], str], plugin_rootfs: Path
) -> None:
    name = unique("plugin")
    # Deploying a plugin only stores its tarball on the server's disk: it succeeds without the engine.
    outcome = deploy_file(down.stub, plugin_rootfs, name, is_plugin=True)
    assert outcome.success is not None
    assert outcome.success.name == name

    request = pb.StartPluginRequest(name=name, instance_name=unique("plg"), config='{"Description": "test"}')
    assert_fast_unavailable(lambda: down.stub.StartPlugin(request, timeout=CALL_TIMEOUT_SECONDS), down.docker_host)

    # RemovePluginTar deletes the stored tarball: disk only, so it succeeds without the engine.
    down.stub.RemovePluginTar(pb.RemovePluginTarRequest(name=name), timeout=CALL_TIMEOUT_SECONDS)
    assert not (down.process.data_dir / "plugins" / f"{name}.tar").exists()


def test_plugin_tarball_rpcs_answer_from_disk_without_the_engine(
    down: DownServer, unique: Callable[[str], str]
) -> None:
    missing = unique("no-such-plugin")
    # RemovePluginTar of a tarball that was never deployed: the server looks on its disk only.
    error = error_of(
        lambda: down.stub.RemovePluginTar(pb.RemovePluginTarRequest(name=missing), timeout=CALL_TIMEOUT_SECONDS)
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
    # StartPlugin checks for the deployed tarball before asking the engine anything.
    start = pb.StartPluginRequest(name=missing, instance_name=unique("plg"), config="{}")
    error = error_of(lambda: down.stub.StartPlugin(start, timeout=CALL_TIMEOUT_SECONDS))
    assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()


# ---------------------------------------------------------------------- the engine comes back


def wait_for_serving(health: health_pb2_grpc.HealthStub, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if status_of(health, "") == SERVING and status_of(health, CONTAINERZ_SERVICE) == SERVING:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"health still not SERVING {timeout}s after the engine came back")


def test_same_server_recovers_when_the_engine_comes_back(down: DownServer, docker_host: str) -> None:
    if not docker_host.startswith("unix://"):
        pytest.skip(f"the proxy forwards to a unix socket; the engine is at {docker_host}")
    assert_fast_unavailable(lambda: CALLS["ListImage"](down.stub, lambda s: s), down.docker_host)

    proxy = UnixSocketProxy(down.socket_path, Path(docker_host.removeprefix("unix://"))).start()
    started = time.monotonic()
    try:
        wait_for_serving(down.health, RECOVERY_SECONDS)
        images = list(down.stub.ListImage(pb.ListImageRequest(), timeout=CALL_TIMEOUT_SECONDS))
        elapsed = time.monotonic() - started
        assert all(i.id for i in images)
        assert elapsed < RECOVERY_SECONDS + 1, f"ListImage succeeded only {elapsed:.1f}s after the engine came back"
        # The same process all along: it logged its start once, and the engine's return.
        logs = down.process.logs()
        assert logs.count('"server.started"') == 1, logs
        assert '"engine.reachable"' in logs, logs
    finally:
        down.process.stop()  # before the proxy, so the server never sees the engine vanish again
        proxy.stop()


# ---------------------------------------------------------------------- an engine that hangs


@pytest.fixture
def silent_engine() -> Iterator[str]:
    """A socket that accepts connections and never answers: a hung dockerd."""
    socket_dir = Path(tempfile.mkdtemp(prefix="cz-hung-", dir="/tmp"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_dir / "docker.sock"))
    listener.listen(128)
    try:
        yield f"unix://{socket_dir / 'docker.sock'}"
    finally:
        listener.close()
        shutil.rmtree(socket_dir, ignore_errors=True)


def test_a_hung_engine_makes_calls_fail_fast_instead_of_piling_up(
    silent_engine: str, tmp_path: Path, unique: Callable[[str], str]
) -> None:
    process = ServerProcess(silent_engine, tmp_path / "data").start()
    try:
        with grpc.insecure_channel(process.address) as channel:
            stub = containerz_pb2_grpc.ContainerzStub(channel)
            deadline = time.monotonic() + 10
            while '"engine.unreachable"' not in process.logs():
                assert time.monotonic() < deadline, "the server never noticed the engine does not answer"
                time.sleep(0.1)
            assert status_of(_health(channel), CONTAINERZ_SERVICE) == NOT_SERVING
            for rpc in ("ListImage", "ListContainer", "StartContainer", "Deploy"):
                assert_fast_unavailable(lambda rpc=rpc: CALLS[rpc](stub, unique), silent_engine)
    finally:
        process.stop()

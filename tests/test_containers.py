"""Containers on the real engine: every StartContainer field, every lifecycle RPC and status code."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable, Iterator

import docker
import grpc
import pytest

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import BusyboxImages, free_port
from tests.support.client import code_of, deploy_file, error_of, eventually

pytestmark = pytest.mark.engine

Stub = containerz_pb2_grpc.ContainerzStub
Request = pb.StartContainerRequest


def start(stub: Stub, images: BusyboxImages, name: str, cmd: str = "", **fields: object) -> str:
    request = Request(image_name=images.repo, tag="latest", instance_name=name, cmd=cmd, **fields)
    response = stub.StartContainer(request, timeout=60)
    assert response.WhichOneof("response") == "start_ok"
    return response.start_ok.instance_name


def entry(stub: Stub, name: str) -> pb.ListContainerResponse | None:
    return next((c for c in stub.ListContainer(pb.ListContainerRequest(all=True)) if c.name == name), None)


def status(stub: Stub, name: str) -> str | None:
    found = entry(stub, name)
    return None if found is None else pb.ListContainerResponse.Status.Name(found.status)


def logs(stub: Stub, name: str) -> list[str]:
    return [r.msg.removesuffix("\n") for r in stub.Log(pb.LogRequest(instance_name=name), timeout=30)]


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


# ---------------------------------------------------------------------- StartContainer


def test_every_start_field_reaches_docker(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    volume = unique("vol")
    stub.CreateVolume(pb.CreateVolumeRequest(name=volume))
    name = unique("full")
    port = free_port()
    start(
        stub,
        test_images,
        name,
        cmd="/bin/sh -c 'echo A=$A; id -u; echo data > /data/f && echo wrote; sleep 300'",
        ports=[Request.Port(internal=port, external=port)],
        environment={"A": "1"},
        volumes=[pb.Volume(name=volume, mount_point="/data")],
        cap=Request.Capabilities(add=["NET_ADMIN"], remove=["MKNOD"]),
        restart=Request.Restart(policy=Request.Restart.ON_FAILURE, attempts=3),
        run_as=Request.RunAs(user="0", group="0"),
        labels={"team": "ops"},
        limits=Request.Limits(max_cpu=0.5, soft_mem_bytes=32 << 20, hard_mem_bytes=64 << 20),
        devices=[pb.Device(src_path="/dev/null", dst_path="/dev/mynull", permissions=[pb.Device.READ])],
        location=Request.L_PRIMARY,
    )
    assert eventually(lambda: "wrote" in logs(stub, name))
    assert logs(stub, name)[:3] == ["A=1", "0", "wrote"]

    inspected = docker_api.inspect_container(name)
    host = inspected["HostConfig"]
    assert inspected["Config"]["Cmd"] == [
        "/bin/sh",
        "-c",
        "echo A=$A; id -u; echo data > /data/f && echo wrote; sleep 300",
    ]
    assert "A=1" in inspected["Config"]["Env"]
    assert inspected["Config"]["User"] == "0:0"
    assert host["NetworkMode"] == "host"
    assert [(m["Type"], m["Name"], m["Destination"]) for m in inspected["Mounts"]] == [("volume", volume, "/data")]
    assert host["CapAdd"] == ["NET_ADMIN"] and host["CapDrop"] == ["MKNOD"]
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["NanoCpus"] == 500_000_000
    assert (host["Memory"], host["MemoryReservation"]) == (64 << 20, 32 << 20)
    assert host["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "r"}]
    labels = entry(stub, name).labels  # type: ignore[union-attr]
    assert labels["team"] == "ops"
    assert labels["net.openconfig.containerz.location.intended"] == "L_PRIMARY"
    assert labels["net.openconfig.containerz.location.actual"] == "L_PRIMARY"
    assert "net.openconfig.containerz.location.reason" in labels


def test_empty_cmd_runs_the_image_default_and_empty_name_is_generated(
    stub: Stub, test_images: BusyboxImages, docker_api: docker.APIClient
) -> None:
    response = stub.StartContainer(Request(image_name=test_images.repo, tag="latest"))
    name = response.start_ok.instance_name
    try:
        assert name.startswith(test_images.repo.rsplit("/", 1)[-1].replace("_", "-"))
        assert eventually(lambda: "started" in logs(stub, name))
    finally:
        docker_api.remove_container(name, force=True)


@pytest.mark.parametrize(("image", "tag"), [("non-existent-image", "latest"), (None, "non-existent-tag")])
def test_missing_image_or_tag_is_not_found(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str], image: str | None, tag: str
) -> None:
    name = unique("noimage")
    request = Request(image_name=image or test_images.repo, tag=tag, instance_name=name)
    error = error_of(lambda: stub.StartContainer(request))
    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert f":{tag} not found" in (error.details() or "")
    assert status(stub, name) is None


def test_missing_volume_is_not_found(stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]) -> None:
    request = Request(
        image_name=test_images.repo,
        instance_name=unique("novol"),
        volumes=[pb.Volume(name=unique("missing-vol"), mount_point="/data")],
    )
    assert code_of(lambda: stub.StartContainer(request)) is grpc.StatusCode.NOT_FOUND


def test_name_taken_and_restart_by_name(stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]) -> None:
    name = unique("taken")
    start(stub, test_images, name)
    assert code_of(lambda: start(stub, test_images, name)) is grpc.StatusCode.ALREADY_EXISTS

    stub.StopContainer(pb.StopContainerRequest(instance_name=name, force=True))
    assert status(stub, name) == "STOPPED"
    # A stopped instance with a full request is still a clash...
    assert code_of(lambda: start(stub, test_images, name)) is grpc.StatusCode.ALREADY_EXISTS
    # ...but only its name starts it again.
    response = stub.StartContainer(Request(instance_name=name))
    assert response.start_ok.instance_name == name
    assert status(stub, name) == "RUNNING"
    assert code_of(lambda: stub.StartContainer(Request(instance_name=name))) is grpc.StatusCode.ALREADY_EXISTS


def test_restart_by_name_of_unknown_container_is_not_found(stub: Stub, unique: Callable[[str], str]) -> None:
    assert code_of(lambda: stub.StartContainer(Request(instance_name=unique("ghost")))) is grpc.StatusCode.NOT_FOUND


def test_host_port_in_use_is_unavailable(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str], listening_port: int
) -> None:
    name = unique("portbusy")
    ports = [Request.Port(internal=listening_port, external=listening_port)]
    error = error_of(lambda: start(stub, test_images, name, ports=ports))
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert str(listening_port) in (error.details() or "")
    assert status(stub, name) is None


def test_host_port_declared_by_a_running_container_is_unavailable(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    port = free_port()
    ports = [Request.Port(internal=port, external=port)]
    holder = unique("holder")
    start(stub, test_images, holder, ports=ports)
    error = error_of(lambda: start(stub, test_images, unique("second"), ports=ports))
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert holder in (error.details() or "")


def test_bad_restart_policy_and_run_as_are_failed_precondition(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    bad_policy = Request(image_name=test_images.repo, instance_name=unique("p"), restart=Request.Restart(policy=42))
    assert code_of(lambda: stub.StartContainer(bad_policy)) is grpc.StatusCode.FAILED_PRECONDITION
    group_only = Request(image_name=test_images.repo, instance_name=unique("g"), run_as=Request.RunAs(group="0"))
    assert code_of(lambda: stub.StartContainer(group_only)) is grpc.StatusCode.FAILED_PRECONDITION
    unknown_user = unique("u")
    request = Request(image_name=test_images.repo, instance_name=unknown_user, run_as=Request.RunAs(user="nosuch"))
    assert code_of(lambda: stub.StartContainer(request)) is grpc.StatusCode.FAILED_PRECONDITION
    assert status(stub, unknown_user) is None  # not left half-created


def test_a_command_that_cannot_run_is_invalid_argument_and_leaves_nothing(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    name = unique("badcmd")
    error = error_of(lambda: start(stub, test_images, name, cmd="/no/such/binary"))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert status(stub, name) is None


# ---------------------------------------------------------------------- StopContainer


@pytest.fixture(scope="module")
def traps_repo(stub: Stub, test_images: BusyboxImages, run_id: str) -> str:
    repo = f"{run_id}-traps"
    deploy_file(stub, test_images.traps_term, repo)
    return repo


def test_graceful_stop_sends_sigterm(stub: Stub, traps_repo: str, unique: Callable[[str], str]) -> None:
    name = unique("graceful")
    stub.StartContainer(Request(image_name=traps_repo, instance_name=name))
    assert eventually(lambda: "waiting" in logs(stub, name))
    started = time.monotonic()
    stub.StopContainer(pb.StopContainerRequest(instance_name=name))
    assert time.monotonic() - started < 3  # it exited on SIGTERM, not after the grace period
    assert status(stub, name) == "STOPPED"
    assert "got TERM" in logs(stub, name)


def test_forced_stop_kills_without_sigterm_and_stays_stopped(
    stub: Stub, traps_repo: str, unique: Callable[[str], str]
) -> None:
    name = unique("forced")
    always = Request.Restart(policy=Request.Restart.ALWAYS)
    stub.StartContainer(Request(image_name=traps_repo, instance_name=name, restart=always))
    assert eventually(lambda: "waiting" in logs(stub, name))
    stub.StopContainer(pb.StopContainerRequest(instance_name=name, force=True))
    time.sleep(2)  # a restart policy must not bring it back after a user stop
    assert status(stub, name) == "STOPPED"
    assert "got TERM" not in logs(stub, name)


def test_stop_with_restart_runs_it_again(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    name = unique("restart")
    start(stub, test_images, name)
    before = docker_api.inspect_container(name)["State"]["StartedAt"]
    stub.StopContainer(pb.StopContainerRequest(instance_name=name, force=True, restart=True))
    assert status(stub, name) == "RUNNING"
    assert docker_api.inspect_container(name)["State"]["StartedAt"] != before


def test_stop_errors(stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]) -> None:
    missing = pb.StopContainerRequest(instance_name=unique("nostop"), force=True)
    assert code_of(lambda: stub.StopContainer(missing)) is grpc.StatusCode.NOT_FOUND
    name = unique("twice")
    start(stub, test_images, name)
    stub.StopContainer(pb.StopContainerRequest(instance_name=name, force=True))
    again = pb.StopContainerRequest(instance_name=name, force=True)
    assert code_of(lambda: stub.StopContainer(again)) is grpc.StatusCode.FAILED_PRECONDITION


# ---------------------------------------------------------------------- RemoveContainer


def test_remove_container(stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]) -> None:
    name = unique("rm")
    start(stub, test_images, name)
    error = error_of(lambda: stub.RemoveContainer(pb.RemoveContainerRequest(name=name)))
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "force" in (error.details() or "")
    assert status(stub, name) == "RUNNING"
    stub.RemoveContainer(pb.RemoveContainerRequest(name=name, force=True))
    assert status(stub, name) is None
    again = pb.RemoveContainerRequest(name=name, force=True)
    assert code_of(lambda: stub.RemoveContainer(again)) is grpc.StatusCode.NOT_FOUND

    stopped = unique("rm-stopped")
    start(stub, test_images, stopped)
    stub.StopContainer(pb.StopContainerRequest(instance_name=stopped, force=True))
    stub.RemoveContainer(pb.RemoveContainerRequest(name=stopped))
    assert status(stub, stopped) is None


# ---------------------------------------------------------------------- UpdateContainer


@pytest.fixture(scope="module")
def upgrade_tag(stub: Stub, test_images: BusyboxImages) -> str:
    deploy_file(stub, test_images.long_running, test_images.repo, "upgrade")
    return "upgrade"


def _update(
    images: BusyboxImages, name: str, tag: str, run_async: bool = False, **params: object
) -> pb.UpdateContainerRequest:
    return pb.UpdateContainerRequest(
        instance_name=name,
        image_name=images.repo,
        image_tag=tag,
        params=Request(image_name=images.repo, tag=tag, instance_name=name, **params),
        **{"async": run_async},
    )


def test_update_replaces_the_container(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str], upgrade_tag: str
) -> None:
    name = unique("upd")
    start(stub, test_images, name)
    response = stub.UpdateContainer(_update(test_images, name, upgrade_tag, cmd="/bin/sh -c 'echo v2; sleep 300'"))
    assert response.update_ok.instance_name == name and not response.update_ok.is_async
    found = entry(stub, name)
    assert found is not None
    assert (found.image_name, pb.ListContainerResponse.Status.Name(found.status)) == (
        f"{test_images.repo}:{upgrade_tag}",
        "RUNNING",
    )
    assert eventually(lambda: logs(stub, name) == ["v2"])
    assert all("containerz-previous" not in c.name for c in stub.ListContainer(pb.ListContainerRequest(all=True)))


def test_async_update_returns_first_and_finishes(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str], upgrade_tag: str
) -> None:
    name = unique("upd-async")
    start(stub, test_images, name)
    response = stub.UpdateContainer(_update(test_images, name, upgrade_tag, run_async=True))
    assert response.update_ok.is_async
    assert eventually(
        lambda: (
            (entry(stub, name) or pb.ListContainerResponse()).image_name == f"{test_images.repo}:{upgrade_tag}"
            and status(stub, name) == "RUNNING"
        )
    )


def test_failed_update_restores_the_previous_container(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str], upgrade_tag: str, docker_api: docker.APIClient
) -> None:
    name = unique("upd-fail")
    start(stub, test_images, name)
    old_id = docker_api.inspect_container(name)["Id"]
    error = error_of(lambda: stub.UpdateContainer(_update(test_images, name, upgrade_tag, cmd="/no/such/binary")))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "previous container restored" in (error.details() or "")
    assert docker_api.inspect_container(name)["Id"] == old_id
    assert status(stub, name) == "RUNNING"
    assert (entry(stub, name) or pb.ListContainerResponse()).image_name == test_images.ref


def test_update_not_found_cases(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str], upgrade_tag: str
) -> None:
    name = unique("upd-nf")
    start(stub, test_images, name)
    wrong_image = pb.UpdateContainerRequest(
        instance_name=name,
        image_name="non-existent-image-for-upgrade",
        image_tag="latest",
        params=Request(image_name="non-existent-image-for-upgrade", tag="latest", instance_name=name),
    )
    assert code_of(lambda: stub.UpdateContainer(wrong_image)) is grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: stub.UpdateContainer(_update(test_images, name, "no-such-tag"))) is grpc.StatusCode.NOT_FOUND
    ghost = unique("upd-ghost")
    assert code_of(lambda: stub.UpdateContainer(_update(test_images, ghost, upgrade_tag))) is grpc.StatusCode.NOT_FOUND
    no_params = pb.UpdateContainerRequest(instance_name=name, image_name=test_images.repo, image_tag="latest")
    assert code_of(lambda: stub.UpdateContainer(no_params)) is grpc.StatusCode.INVALID_ARGUMENT
    assert status(stub, name) == "RUNNING"


# ---------------------------------------------------------------------- ListContainer


def test_list_container_fields_filters_and_limit(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    running, stopped = unique("ls-run"), unique("ls-stop")
    start(stub, test_images, running)
    start(stub, test_images, stopped)
    stub.StopContainer(pb.StopContainerRequest(instance_name=stopped, force=True))
    created = unique("ls-created")
    docker_api.create_container(test_images.ref, name=created)

    everything = {c.name: c for c in stub.ListContainer(pb.ListContainerRequest(all=True))}
    running_only = {c.name for c in stub.ListContainer(pb.ListContainerRequest())}
    assert {running, stopped, created} <= everything.keys()
    assert running in running_only and stopped not in running_only and created not in running_only
    statuses = {n: pb.ListContainerResponse.Status.Name(everything[n].status) for n in (running, stopped, created)}
    assert statuses == {running: "RUNNING", stopped: "STOPPED", created: "PRESENT"}

    item = everything[running]
    assert not item.name.startswith("/")
    assert item.image_name == test_images.ref
    image_id = docker_api.inspect_image(test_images.ref)["Id"]
    assert item.hash.method == item.hash.SHA256
    assert item.hash.hash.hex() == image_id.removeprefix("sha256:")
    assert item.id == docker_api.inspect_container(running)["Id"]

    by_name = pb.ListContainerRequest(all=True, filter=[pb.ListContainerRequest.Filter(key="name", value=[running])])
    assert [c.name for c in stub.ListContainer(by_name)] == [running]
    assert len(list(stub.ListContainer(pb.ListContainerRequest(all=True, limit=2)))) == 2
    bad_filter = pb.ListContainerRequest(filter=[pb.ListContainerRequest.Filter(key="no-such-key", value=["x"])])
    assert code_of(lambda: stub.ListContainer(bad_filter)) is grpc.StatusCode.INVALID_ARGUMENT


# ---------------------------------------------------------------------- Log


def test_log_without_follow_ends(stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]) -> None:
    name = unique("log")
    start(stub, test_images, name)
    assert eventually(lambda: "tick" in logs(stub, name))
    lines = logs(stub, name)
    assert lines[0] == "started" and set(lines[1:]) == {"tick"}


def test_log_follow_streams_new_lines(stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]) -> None:
    name = unique("follow")
    start(stub, test_images, name)
    stream = stub.Log(pb.LogRequest(instance_name=name, follow=True), timeout=30)
    received = []
    for response in stream:
        received.append(response.msg)
        if received.count("tick\n") >= 3:
            break
    stream.cancel()
    assert received[0] == "started\n"


def test_log_of_unknown_instance_is_not_found_quickly(stub: Stub, unique: Callable[[str], str]) -> None:
    started = time.monotonic()
    request = pb.LogRequest(instance_name=unique("log-missing"))
    assert code_of(lambda: stub.Log(request, timeout=10)) is grpc.StatusCode.NOT_FOUND
    assert time.monotonic() - started < 1


def test_log_of_an_exited_container_returns_its_last_lines(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str], run_id: str
) -> None:
    repo = f"{run_id}-exits"
    deploy_file(stub, test_images.exits, repo)
    name = unique("exited")
    stub.StartContainer(Request(image_name=repo, instance_name=name))
    assert eventually(lambda: status(stub, name) == "STOPPED")
    assert logs(stub, name) == ["bye"]
    follow = stub.Log(pb.LogRequest(instance_name=name, follow=True), timeout=10)
    assert [r.msg for r in follow] == ["bye\n"]  # following a stopped container ends too


def test_bridged_network_publishes_the_mapped_port(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    name = unique("bridged")
    external = free_port()
    start(
        stub,
        test_images,
        name,
        cmd="/bin/sh -c 'mkdir -p /www && echo hello-bridge > /www/index.html && exec httpd -f -p 8080 -h /www'",
        network="bridged",
        ports=[Request.Port(internal=8080, external=external)],
    )

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{external}/", timeout=2) as response:
                return bool(response.read() == b"hello-bridge\n")
        except OSError:
            return False

    assert eventually(answers)

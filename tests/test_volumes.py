"""CreateVolume, RemoveVolume and ListVolume on the real engine."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
import pytest

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import BusyboxImages
from tests.support.client import code_of, error_of

pytestmark = pytest.mark.engine

Stub = containerz_pb2_grpc.ContainerzStub
BIND_TMP = pb.LocalDriverOptions(type=pb.LocalDriverOptions.TYPE_NONE, options=["bind"], mountpoint="/tmp")


def volumes(stub: Stub) -> dict[str, pb.ListVolumeResponse]:
    return {v.name: v for v in stub.ListVolume(pb.ListVolumeRequest())}


def test_local_bind_volume_as_featureprofiles_checks_it(stub: Stub, unique: Callable[[str], str]) -> None:
    name = unique("vol-positive")
    before = time.time()
    created = stub.CreateVolume(
        pb.CreateVolumeRequest(name=name, driver=pb.DS_LOCAL, local_mount_options=BIND_TMP, labels={"owner": "me"})
    )
    assert created.name == name
    listed = volumes(stub)[name]
    assert listed.driver == "local"
    assert dict(listed.options) == {"device": "/tmp", "o": "bind", "type": "none"}
    assert dict(listed.labels) == {"owner": "me"}
    assert before - 5 <= listed.created.ToSeconds() <= time.time() + 5

    stub.RemoveVolume(pb.RemoveVolumeRequest(name=name, force=True))
    assert name not in volumes(stub)


def test_duplicate_is_already_exists_and_changes_nothing(stub: Stub, unique: Callable[[str], str]) -> None:
    name = unique("vol-dup")
    stub.CreateVolume(pb.CreateVolumeRequest(name=name, labels={"first": "yes"}))
    error = error_of(lambda: stub.CreateVolume(pb.CreateVolumeRequest(name=name, labels={"second": "yes"})))
    assert error.code() is grpc.StatusCode.ALREADY_EXISTS
    assert dict(volumes(stub)[name].labels) == {"first": "yes"}


def test_empty_name_is_generated(stub: Stub) -> None:
    created = stub.CreateVolume(pb.CreateVolumeRequest())
    try:
        assert created.name and created.name in volumes(stub)
    finally:
        stub.RemoveVolume(pb.RemoveVolumeRequest(name=created.name))


def test_removing_an_absent_volume_is_a_no_op(stub: Stub, unique: Callable[[str], str]) -> None:
    name = unique("vol-absent")
    stub.RemoveVolume(pb.RemoveVolumeRequest(name=name))
    stub.RemoveVolume(pb.RemoveVolumeRequest(name=name, force=True))
    assert name not in volumes(stub)


def test_volume_in_use_cannot_be_removed(stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]) -> None:
    name = unique("vol-busy")
    stub.CreateVolume(pb.CreateVolumeRequest(name=name))
    stub.StartContainer(
        pb.StartContainerRequest(
            image_name=test_images.repo,
            instance_name=unique("vol-user"),
            volumes=[pb.Volume(name=name, mount_point="/data")],
        )
    )
    error = error_of(lambda: stub.RemoveVolume(pb.RemoveVolumeRequest(name=name)))
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert name in volumes(stub)


def test_data_written_by_one_container_is_read_by_the_next(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    name = unique("vol-data")
    stub.CreateVolume(pb.CreateVolumeRequest(name=name))
    mount = [pb.Volume(name=name, mount_point="/data")]
    writer = unique("writer")
    stub.StartContainer(
        pb.StartContainerRequest(
            image_name=test_images.repo, instance_name=writer, cmd="/bin/sh -c 'echo kept > /data/x'", volumes=mount
        )
    )
    reader = unique("reader")
    deadline = time.monotonic() + 15
    while [c for c in stub.ListContainer(pb.ListContainerRequest()) if c.name == writer]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    read_only = [pb.Volume(name=name, mount_point="/data", read_only=True)]
    stub.StartContainer(
        pb.StartContainerRequest(
            image_name=test_images.repo,
            instance_name=reader,
            cmd="/bin/sh -c 'cat /data/x; (echo x > /data/y) 2>/dev/null && echo writable || echo read-only; sleep 60'",
            volumes=read_only,
        )
    )
    while len(lines := [r.msg.rstrip("\n") for r in stub.Log(pb.LogRequest(instance_name=reader))]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert lines == ["kept", "read-only"]


def test_filters_and_bad_requests(stub: Stub, unique: Callable[[str], str]) -> None:
    name = unique("vol-filter")
    stub.CreateVolume(pb.CreateVolumeRequest(name=name))
    by_name = pb.ListVolumeRequest(filter=[pb.ListVolumeRequest.Filter(key="name", value=[name])])
    assert [v.name for v in stub.ListVolume(by_name)] == [name]

    no_mountpoint = pb.CreateVolumeRequest(
        name=unique("vol-bad"), driver=pb.DS_LOCAL, local_mount_options=pb.LocalDriverOptions(options=["bind"])
    )
    assert code_of(lambda: stub.CreateVolume(no_mountpoint)) is grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: stub.CreateVolume(pb.CreateVolumeRequest(name="a/b"))) is grpc.StatusCode.INVALID_ARGUMENT
    assert no_mountpoint.name not in volumes(stub)

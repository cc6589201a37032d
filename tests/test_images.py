"""ListImage and RemoveImage on the real engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker
import grpc
import pytest

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import BusyboxImages
from tests.support.client import code_of, deploy_file, error_of
from tests.support.images import build_image_tar

pytestmark = pytest.mark.engine

Stub = containerz_pb2_grpc.ContainerzStub


def tags_of(stub: Stub, name: str, request: pb.ListImageRequest | None = None) -> list[str]:
    return sorted(i.tag for i in stub.ListImage(request or pb.ListImageRequest()) if i.image_name == name)


def test_one_entry_per_name_and_tag(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    name = unique("multi")
    for tag in ("latest", "upgrade", "v3"):
        deploy_file(stub, test_images.long_running, name, tag)
    assert tags_of(stub, name) == ["latest", "upgrade", "v3"]
    image_id = docker_api.inspect_image(f"{name}:latest")["Id"]
    entries = [i for i in stub.ListImage(pb.ListImageRequest()) if i.image_name == name]
    assert {i.id for i in entries} == {image_id}
    assert all("," not in i.tag for i in stub.ListImage(pb.ListImageRequest()))


def test_limit_and_filters(stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]) -> None:
    name = unique("filtered")
    deploy_file(stub, test_images.long_running, name, "a")
    deploy_file(stub, test_images.long_running, name, "b")
    assert len(list(stub.ListImage(pb.ListImageRequest(limit=1)))) == 1
    by_reference = pb.ListImageRequest(filter=[pb.ListImageRequest.Filter(key="reference", value=[f"{name}:a"])])
    assert [(i.image_name, i.tag) for i in stub.ListImage(by_reference)] == [(name, "a")]
    bad = pb.ListImageRequest(filter=[pb.ListImageRequest.Filter(key="no-such-filter", value=["x"])])
    assert code_of(lambda: stub.ListImage(bad)) is grpc.StatusCode.INVALID_ARGUMENT


def test_remove_image(stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]) -> None:
    name = unique("rmi")
    deploy_file(stub, test_images.long_running, name, "v1")
    stub.RemoveImage(pb.RemoveImageRequest(name=name, tag="v1"))
    assert tags_of(stub, name) == []
    missing = pb.RemoveImageRequest(name=name, tag="v1")
    assert code_of(lambda: stub.RemoveImage(missing)) is grpc.StatusCode.NOT_FOUND
    invalid = pb.RemoveImageRequest(name="../x")
    assert code_of(lambda: stub.RemoveImage(invalid)) is grpc.StatusCode.INVALID_ARGUMENT


def test_removing_one_of_several_tags_keeps_the_others(
    stub: Stub, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    name = unique("rmtag")
    deploy_file(stub, test_images.long_running, name, "keep")
    deploy_file(stub, test_images.long_running, name, "drop")
    stub.RemoveImage(pb.RemoveImageRequest(name=name, tag="drop"))
    assert tags_of(stub, name) == ["keep"]


def test_image_in_use(stub: Stub, tmp_path: Path, unique: Callable[[str], str]) -> None:
    name = unique("inuse")
    tarball = tmp_path / "own.tar"  # an image ID no other test tags, so removing the tag removes the image
    build_image_tar(tarball, "x", cmd=["/bin/sh", "-c", f"echo {name}; sleep 300"])
    deploy_file(stub, tarball, name)
    instance = unique("user")
    stub.StartContainer(pb.StartContainerRequest(image_name=name, instance_name=instance))

    for force in (False, True):  # a running container's image cannot go, forced or not
        error = error_of(lambda force=force: stub.RemoveImage(pb.RemoveImageRequest(name=name, force=force)))
        assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert instance in (error.details() or "")
    assert tags_of(stub, name) == ["latest"]

    stub.StopContainer(pb.StopContainerRequest(instance_name=instance, force=True))
    stopped_user = error_of(lambda: stub.RemoveImage(pb.RemoveImageRequest(name=name)))
    assert stopped_user.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "force" in (stopped_user.details() or "")
    stub.RemoveImage(pb.RemoveImageRequest(name=name, force=True))
    assert tags_of(stub, name) == []

"""Request validation: bad input gets a clear error before anything touches the engine."""

from __future__ import annotations

import grpc
import pytest

from containerz import errors, names
from containerz.model import Location, RestartPolicy
from containerz.server import convert
from protos.gnoi.containerz import containerz_pb2 as pb


@pytest.mark.parametrize(
    "name", ["cntrsrv_image", "busybox", "org/app", "localhost:5000/app", "127.0.0.1:5000/a/b", "a.b-c__d"]
)
def test_valid_image_names(name: str) -> None:
    assert names.image_name(name) == name


@pytest.mark.parametrize("name", ["", "../evil", "/abs", "a//b", "UPPER", "app/", "a/../b", "host:5000", "-x", "a b"])
def test_invalid_image_names(name: str) -> None:
    with pytest.raises(errors.InvalidArgument) as raised:
        names.image_name(name)
    assert raised.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "name" in raised.value.message


@pytest.mark.parametrize("name", ["", "a/b", "..", "../x", "x/..", "-lead", "a" * 300, "has space"])
def test_invalid_object_names(name: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        names.object_name(name, "plugin")


def test_empty_tag_means_latest_and_bad_tags_are_refused() -> None:
    assert names.image_tag("") == "latest"
    assert names.image_tag("v1.2_rc-3") == "v1.2_rc-3"
    for bad in (".hidden", "-x", "a/b", "a" * 129):
        with pytest.raises(errors.InvalidArgument):
            names.image_tag(bad)


def full_request() -> pb.StartContainerRequest:
    return pb.StartContainerRequest(
        image_name="cntrsrv_image",
        tag="v2",
        cmd="./cntrsrv --port=60061 --msg 'hello world'",
        instance_name="inst",
        ports=[pb.StartContainerRequest.Port(internal=60061, external=60062)],
        environment={"B": "2", "A": "1"},
        volumes=[pb.Volume(name="vol", mount_point="/data", read_only=True)],
        network="bridged",
        cap=pb.StartContainerRequest.Capabilities(add=["net_admin", "CAP_SYS_TIME"], remove=["MKNOD"]),
        restart=pb.StartContainerRequest.Restart(policy=pb.StartContainerRequest.Restart.ON_FAILURE, attempts=4),
        run_as=pb.StartContainerRequest.RunAs(user="nobody", group="nogroup"),
        labels={"team": "ops"},
        limits=pb.StartContainerRequest.Limits(max_cpu=0.5, soft_mem_bytes=1 << 20, hard_mem_bytes=1 << 21),
        devices=[pb.Device(src_path="/dev/null", dst_path="/dev/mynull", permissions=[pb.Device.READ])],
        location=pb.StartContainerRequest.L_BACKUP,
    )


def test_every_start_field_is_translated() -> None:
    spec = convert.container_spec(full_request())
    assert spec.image_ref == "cntrsrv_image:v2"
    assert spec.command == ("./cntrsrv", "--port=60061", "--msg", "hello world")
    assert [(p.internal, p.external) for p in spec.ports] == [(60061, 60062)]
    assert spec.environment == (("A", "1"), ("B", "2"))
    assert [(v.volume, v.mount_point, v.read_only) for v in spec.volumes] == [("vol", "/data", True)]
    assert spec.network == "bridge"
    assert spec.cap_add == ("NET_ADMIN", "SYS_TIME")
    assert spec.cap_drop == ("MKNOD",)
    assert (spec.restart, spec.restart_attempts) == (RestartPolicy.ON_FAILURE, 4)
    assert spec.user == "nobody:nogroup"
    assert spec.labels == (("team", "ops"),)
    assert (spec.max_cpu, spec.soft_memory_bytes, spec.hard_memory_bytes) == (0.5, 1 << 20, 1 << 21)
    assert [(d.host_path, d.container_path, d.cgroup_permissions) for d in spec.devices] == [
        ("/dev/null", "/dev/mynull", "r")
    ]
    assert spec.location is Location.BACKUP


def test_defaults_match_the_reference_client() -> None:
    request = pb.StartContainerRequest(
        image_name="cntrsrv_image",
        tag="latest",
        cmd="",
        instance_name="test-instance",
        limits=pb.StartContainerRequest.Limits(),
        cap=pb.StartContainerRequest.Capabilities(),
    )
    spec = convert.container_spec(request)
    assert spec.command == ()
    assert spec.network == "host"
    assert spec.restart is RestartPolicy.NONE
    assert spec.user is None
    assert (spec.max_cpu, spec.soft_memory_bytes, spec.hard_memory_bytes) == (0, 0, 0)
    assert spec.location is Location.PRIMARY


def test_generated_instance_name_when_empty() -> None:
    first = convert.container_spec(pb.StartContainerRequest(image_name="org/my_app"))
    second = convert.container_spec(pb.StartContainerRequest(image_name="org/my_app"))
    assert first.instance_name.startswith("my-app-")
    assert first.instance_name != second.instance_name


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda r: setattr(r, "cmd", "echo 'unbalanced"), errors.InvalidArgument),
        (lambda r: r.ports.add(internal=70000, external=1), errors.InvalidArgument),
        (lambda r: r.ports.add(internal=1, external=60062), errors.InvalidArgument),
        (lambda r: r.volumes.add(name="v2", mount_point="relative"), errors.InvalidArgument),
        (lambda r: r.cap.add.append("NOT_A_CAP"), errors.InvalidArgument),
        (lambda r: setattr(r.restart, "policy", 42), errors.FailedPrecondition),
        (lambda r: setattr(r.run_as, "user", ""), errors.FailedPrecondition),
        (lambda r: setattr(r.run_as, "user", "a:b"), errors.FailedPrecondition),
        (lambda r: r.labels.__setitem__("net.openconfig.containerz.location.actual", "x"), errors.InvalidArgument),
        (lambda r: setattr(r.limits, "max_cpu", -1), errors.InvalidArgument),
        (lambda r: setattr(r.limits, "max_cpu", 10_000), errors.InvalidArgument),
        (lambda r: setattr(r.limits, "soft_mem_bytes", 1 << 30), errors.InvalidArgument),
        (lambda r: r.devices.add(src_path="dev/null"), errors.InvalidArgument),
        (lambda r: setattr(r, "location", 9), errors.InvalidArgument),
        (lambda r: setattr(r, "instance_name", "a/b"), errors.InvalidArgument),
        (lambda r: setattr(r, "image_name", "../x"), errors.InvalidArgument),
    ],
)
def test_bad_start_requests_are_refused_with_the_documented_code(mutate, error) -> None:  # type: ignore[no-untyped-def]
    request = full_request()
    mutate(request)
    with pytest.raises(error):
        convert.container_spec(request)


def test_restart_by_name_is_only_instance_name() -> None:
    assert convert.is_restart_by_name(pb.StartContainerRequest(instance_name="x"))
    assert not convert.is_restart_by_name(pb.StartContainerRequest(instance_name="x", image_name="img"))
    assert not convert.is_restart_by_name(pb.StartContainerRequest(image_name="img"))


def test_local_volume_options_map_exactly_as_featureprofiles_expects() -> None:
    request = pb.CreateVolumeRequest(
        name="v",
        driver=pb.DS_LOCAL,
        local_mount_options=pb.LocalDriverOptions(
            type=pb.LocalDriverOptions.TYPE_NONE, options=["bind"], mountpoint="/tmp"
        ),
    )
    spec = convert.volume_spec(request, "v")
    assert spec.driver == "local"
    assert dict(spec.options) == {"device": "/tmp", "o": "bind", "type": "none"}


def test_volume_option_errors() -> None:
    bind_without_mountpoint = pb.CreateVolumeRequest(
        driver=pb.DS_LOCAL, local_mount_options=pb.LocalDriverOptions(options=["bind"])
    )
    with pytest.raises(errors.InvalidArgument):
        convert.volume_spec(bind_without_mountpoint, "v")
    custom_on_local = pb.CreateVolumeRequest(driver=pb.DS_LOCAL, custom_options=pb.CustomOptions(options={"a": "b"}))
    with pytest.raises(errors.InvalidArgument):
        convert.volume_spec(custom_on_local, "v")


def test_custom_driver_takes_its_name_from_the_options() -> None:
    request = pb.CreateVolumeRequest(
        driver=pb.DS_CUSTOM, custom_options=pb.CustomOptions(options={"driver": "myplug:latest", "size": "1G"})
    )
    spec = convert.volume_spec(request, "v")
    assert (spec.driver, dict(spec.options)) == ("myplug:latest", {"size": "1G"})


def test_filters_accumulate_repeated_keys() -> None:
    raw = [pb.ListImageRequest.Filter(key="label", value=["a=1"]), pb.ListImageRequest.Filter(key="label", value=["b"])]
    assert convert.filters(raw) == {"label": ["a=1", "b"]}
    with pytest.raises(errors.InvalidArgument):
        convert.filters([pb.ListImageRequest.Filter(key="", value=["x"])])

"""Managed plugins on the real engine: a real volume plugin built from source, deployed and run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker
import grpc
import pytest

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.support.client import code_of, deploy_file
from tests.support.images import plugin_config_json
from tests.support.server import ServerProcess

pytestmark = pytest.mark.engine

Stub = containerz_pb2_grpc.ContainerzStub


@pytest.fixture(scope="module")
def deployed_plugin(stub: Stub, plugin_tarball: Path, run_id: str) -> str:
    name = f"{run_id}-volplugin"
    outcome = deploy_file(stub, plugin_tarball, name, is_plugin=True)
    assert outcome.success is not None
    return name


def plugin_names(stub: Stub, instance: str = "") -> list[str]:
    return [p.instance_name for p in stub.ListPlugins(pb.ListPluginsRequest(instance_name=instance)).plugins]


def test_plugin_lifecycle(
    stub: Stub, deployed_plugin: str, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    instance = unique("plug")
    started = stub.StartPlugin(
        pb.StartPluginRequest(name=deployed_plugin, instance_name=instance, config=plugin_config_json())
    )
    assert started.instance_name == f"{instance}:latest"
    assert plugin_names(stub, instance) == [f"{instance}:latest"]
    listed = stub.ListPlugins(pb.ListPluginsRequest()).plugins
    mine = next(p for p in listed if p.instance_name == f"{instance}:latest")
    assert mine.id and '"Entrypoint"' in mine.config
    assert docker_api.inspect_plugin(f"{instance}:latest")["Enabled"] is True

    volume = unique("plugvol")
    stub.CreateVolume(
        pb.CreateVolumeRequest(
            name=volume, driver=pb.DS_CUSTOM, custom_options=pb.CustomOptions(options={"driver": f"{instance}:latest"})
        )
    )
    assert {v.name: v.driver for v in stub.ListVolume(pb.ListVolumeRequest())}[volume] == f"{instance}:latest"
    stub.RemoveVolume(pb.RemoveVolumeRequest(name=volume))

    again = pb.StartPluginRequest(name=deployed_plugin, instance_name=instance, config=plugin_config_json())
    assert code_of(lambda: stub.StartPlugin(again)) is grpc.StatusCode.ALREADY_EXISTS

    stub.StopPlugin(pb.StopPluginRequest(instance_name=f"{instance}:latest"))
    assert docker_api.inspect_plugin(f"{instance}:latest")["Enabled"] is False
    stub.RemovePlugin(pb.RemovePluginRequest(instance_name=f"{instance}:latest"))
    assert plugin_names(stub, instance) == []
    # Stopping or removing what is not there is a no-op, as the proto says.
    stub.StopPlugin(pb.StopPluginRequest(instance_name=instance))
    stub.RemovePlugin(pb.RemovePluginRequest(instance_name=instance))


def test_start_plugin_errors(stub: Stub, deployed_plugin: str, unique: Callable[[str], str]) -> None:
    missing = pb.StartPluginRequest(name=unique("no-such"), instance_name=unique("x"), config='{"description":"d"}')
    assert code_of(lambda: stub.StartPlugin(missing)) is grpc.StatusCode.NOT_FOUND
    bad_config = pb.StartPluginRequest(name=deployed_plugin, instance_name=unique("x"), config="{not json")
    assert code_of(lambda: stub.StartPlugin(bad_config)) is grpc.StatusCode.INVALID_ARGUMENT
    bad_name = pb.StartPluginRequest(name="../etc/passwd", instance_name=unique("x"), config="{}")
    assert code_of(lambda: stub.StartPlugin(bad_name)) is grpc.StatusCode.INVALID_ARGUMENT


def test_a_plugin_that_cannot_start_is_removed(
    stub: Stub, deployed_plugin: str, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    instance = unique("broken")
    config = plugin_config_json().replace('"/plugin"', '"/no/such/entrypoint"')
    request = pb.StartPluginRequest(name=deployed_plugin, instance_name=instance, config=config)
    assert code_of(lambda: stub.StartPlugin(request)) is grpc.StatusCode.FAILED_PRECONDITION
    assert f"{instance}:latest" not in {p["Name"] for p in docker_api.plugins()}


def test_remove_plugin_tar(
    stub: Stub, plugin_tarball: Path, unique: Callable[[str], str], server: ServerProcess
) -> None:
    name = unique("tar")
    deploy_file(stub, plugin_tarball, name, is_plugin=True)
    stored = server.data_dir / "plugins" / f"{name}.tar"
    assert stored.exists()
    stub.RemovePluginTar(pb.RemovePluginTarRequest(name=name))
    assert not stored.exists()
    again = pb.RemovePluginTarRequest(name=name)
    assert code_of(lambda: stub.RemovePluginTar(again)) is grpc.StatusCode.NOT_FOUND

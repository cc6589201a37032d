"""StartPlugin, StopPlugin, RemovePlugin, ListPlugins and RemovePluginTar."""

from __future__ import annotations

from containerz import errors, names
from containerz.managers import Managers
from containerz.server.convert import plugins_response
from protos.gnoi.containerz import containerz_pb2 as pb


def _instance(value: str) -> str:
    """A plugin instance, with or without Docker's ':latest' suffix."""
    base, _, tag = value.partition(":")
    names.object_name(base, "plugin instance", "instance_name")
    if tag and tag != "latest":
        raise errors.InvalidArgument(f"instance_name {value!r}: plugin instances are always tagged ':latest'")
    return value


async def start_plugin(managers: Managers, request: pb.StartPluginRequest) -> pb.StartPluginResponse:
    name = names.object_name(request.name, "plugin")
    started = await managers.plugins.start(name, _instance(request.instance_name), request.config)
    return pb.StartPluginResponse(instance_name=started)


async def stop_plugin(managers: Managers, request: pb.StopPluginRequest) -> pb.StopPluginResponse:
    await managers.plugins.stop(_instance(request.instance_name))
    return pb.StopPluginResponse()


async def remove_plugin(managers: Managers, request: pb.RemovePluginRequest) -> pb.RemovePluginResponse:
    await managers.plugins.remove(_instance(request.instance_name))
    return pb.RemovePluginResponse()


async def list_plugins(managers: Managers, request: pb.ListPluginsRequest) -> pb.ListPluginsResponse:
    wanted = _instance(request.instance_name) if request.instance_name else ""
    return plugins_response(await managers.plugins.list(wanted))


async def remove_plugin_tar(managers: Managers, request: pb.RemovePluginTarRequest) -> pb.RemovePluginTarResponse:
    await managers.plugins.remove_tarball(names.object_name(request.name, "plugin"))
    return pb.RemovePluginTarResponse()

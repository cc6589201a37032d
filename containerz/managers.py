"""The managers the gRPC servicers call: one per kind of object, all on one engine."""

from __future__ import annotations

from dataclasses import dataclass

from containerz.containers import ContainerManager
from containerz.engine.base import Engine
from containerz.images import ImageManager
from containerz.plugins import PluginManager
from containerz.settings import Settings
from containerz.volumes import VolumeManager


@dataclass(frozen=True)
class Managers:
    images: ImageManager
    containers: ContainerManager
    volumes: VolumeManager
    plugins: PluginManager

    @classmethod
    def on(cls, engine: Engine, settings: Settings) -> Managers:
        return cls(
            images=ImageManager(engine, settings),
            containers=ContainerManager(engine, settings),
            volumes=VolumeManager(engine),
            plugins=PluginManager(engine, settings),
        )

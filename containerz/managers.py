"""The managers the gRPC servicers call: one per kind of object, all on one engine."""

from __future__ import annotations

from dataclasses import dataclass

from containerz.containers import ContainerManager
from containerz.engine.base import Engine
from containerz.images import ImageManager
from containerz.plugins import PluginManager
from containerz.settings import Settings
from containerz.volumes import VolumeManager
from state import StateWriter


@dataclass(frozen=True)
class Managers:
    engine: Engine
    images: ImageManager
    containers: ContainerManager
    volumes: VolumeManager
    plugins: PluginManager

    @classmethod
    def on(cls, engine: Engine, settings: Settings, state: StateWriter) -> Managers:
        return cls(
            engine=engine,
            images=ImageManager(engine, settings, state),
            containers=ContainerManager(engine, settings, state),
            volumes=VolumeManager(engine, state),
            plugins=PluginManager(engine, settings, state),
        )

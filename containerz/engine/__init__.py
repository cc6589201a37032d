"""Container engines: the narrow interface the managers use, and its Docker implementation."""

from containerz.engine.base import Engine, RegistryAuth

__all__ = ["Engine", "RegistryAuth"]

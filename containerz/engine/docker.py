"""The Docker engine adapter: :class:`containerz.engine.Engine` on the Docker SDK's low-level API.

docker-py is synchronous, so every call runs in a thread: short calls in one pool,
long-lived streams (logs, loads, pulls) in another so a dozen ``Log --follow`` clients
cannot starve ``ListContainer``. The client is created lazily, so the server starts
(and answers UNAVAILABLE) while the engine is down, and reconnects when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import docker.types
import requests.exceptions

from containerz import errors
from containerz.engine.base import Filters, RegistryAuth
from containerz.model import (
    ContainerSpec,
    ContainerState,
    ContainerSummary,
    ImageDetails,
    PluginSummary,
    VolumeSpec,
    VolumeSummary,
)
from containerz.threads import iterate_in_thread

T = TypeVar("T")

# Docker 25+ refuses API versions below 1.44, Debian's 20.10 speaks at most 1.41:
# negotiate rather than pin.
_API_VERSION = "auto"
_CALL_TIMEOUT_SECONDS = 60
# A ping (and the version negotiation) that takes longer than this marks the engine unreachable.
_PING_TIMEOUT_SECONDS = 2
_STATES = {
    "running": ContainerState.RUNNING,
    "restarting": ContainerState.RUNNING,
    "paused": ContainerState.RUNNING,
    "exited": ContainerState.STOPPED,
    "dead": ContainerState.STOPPED,
    "removing": ContainerState.STOPPED,
    "created": ContainerState.PRESENT,
}


class DockerEngine:
    """A Docker engine reached at ``base_url`` (``unix:///...`` or ``tcp://...``)."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self._lock = threading.Lock()
        self._api: docker.APIClient | None = None
        self._stream_api: docker.APIClient | None = None
        self._ping_api: docker.APIClient | None = None
        self._calls = ThreadPoolExecutor(max_workers=16, thread_name_prefix="docker-call")
        self._streams = ThreadPoolExecutor(max_workers=64, thread_name_prefix="docker-stream")
        self._pings = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docker-ping")
        # Set by a failed ping, cleared by a good one: while set, calls fail at once instead of
        # queueing behind an engine that does not answer.
        self._unreachable: str | None = None

    @property
    def endpoint(self) -> str:
        return self._base_url

    def close(self) -> None:
        for pool in (self._calls, self._streams, self._pings):
            pool.shutdown(wait=False, cancel_futures=True)
        for api in (self._api, self._stream_api, self._ping_api):
            if api is not None:
                api.close()

    # ------------------------------------------------------------------ plumbing

    def _clients(self) -> tuple[docker.APIClient, docker.APIClient]:
        """The call client (bounded timeout) and the stream client (no read timeout)."""
        with self._lock:
            if self._api is None or self._stream_api is None:
                # Negotiating the version is itself a request: bound it like a ping.
                api = docker.APIClient(
                    base_url=self._base_url, version=_API_VERSION, timeout=_PING_TIMEOUT_SECONDS, max_pool_size=32
                )
                api.timeout = _CALL_TIMEOUT_SECONDS
                self._stream_api = docker.APIClient(
                    base_url=self._base_url, version=api.api_version, timeout=None, max_pool_size=64
                )
                self._api = api
            return self._api, self._stream_api

    def _check_reachable(self, what: str) -> None:
        if self._unreachable is not None:
            raise errors.EngineUnavailable(f"{what}: {self._unreachable}")

    def _translate(self, exc: BaseException, what: str) -> errors.ContainerzError:
        if isinstance(exc, errors.ContainerzError):
            return exc
        if isinstance(exc, requests.exceptions.Timeout):
            return errors.EngineUnavailable(f"{what}: the Docker engine at {self._base_url} did not answer in time")
        if isinstance(exc, requests.exceptions.ConnectionError) or (
            isinstance(exc, docker.errors.DockerException) and not isinstance(exc, docker.errors.APIError)
        ):
            return errors.EngineUnavailable(
                f"{what}: the Docker engine at {self._base_url} is unreachable; is dockerd running? ({exc})"
            )
        if isinstance(exc, docker.errors.APIError):
            detail = exc.explanation or str(exc)
            status = exc.status_code
            if status == 404:
                return errors.NotFound(f"{what}: {detail}")
            if status == 409:
                return errors.FailedPrecondition(f"{what}: {detail}")
            if status == 400:
                return errors.InvalidArgument(f"{what}: {detail}")
            return errors.Internal(f"{what}: Docker engine error: {detail}")
        return errors.Internal(f"{what}: {type(exc).__name__}: {exc}")

    async def _call(self, what: str, fn: Callable[[docker.APIClient], T]) -> T:
        self._check_reachable(what)

        def run() -> T:
            api, _ = self._clients()
            return fn(api)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._calls, run)
        except Exception as exc:
            raise self._translate(exc, what) from exc

    async def _long_call(self, what: str, fn: Callable[[docker.APIClient], T]) -> T:
        self._check_reachable(what)

        def run() -> T:
            _, api = self._clients()
            return fn(api)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._streams, run)
        except Exception as exc:
            raise self._translate(exc, what) from exc

    async def _stream(
        self, what: str, open_stream: Callable[[docker.APIClient], Iterator[T]]
    ) -> AsyncGenerator[T, None]:
        self._check_reachable(what)

        def opener() -> Iterator[T]:
            _, api = self._clients()
            return open_stream(api)

        def closer(stream: Iterator[T]) -> None:
            close = getattr(stream, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # the stream may already be gone
                    close()

        try:
            async with aclosing(iterate_in_thread(self._streams, opener, closer)) as items:
                async for item in items:
                    yield item
        except errors.ContainerzError:
            raise
        except Exception as exc:
            raise self._translate(exc, what) from exc

    async def ping(self) -> None:
        """Check the engine answers within 2 s; the verdict also gates every other call."""

        def run() -> None:
            if self._ping_api is None:
                self._ping_api = docker.APIClient(
                    base_url=self._base_url, version=_API_VERSION, timeout=_PING_TIMEOUT_SECONDS
                )
            self._ping_api.ping()

        try:
            await asyncio.get_running_loop().run_in_executor(self._pings, run)
        except Exception as exc:
            error = self._translate(exc, "ping")
            if isinstance(error, errors.EngineUnavailable):
                self._unreachable = error.message.removeprefix("ping: ")
            raise error from exc
        self._unreachable = None

    # ------------------------------------------------------------------ images

    async def load_image(self, chunks: AsyncIterator[bytes]) -> tuple[str, ...]:
        loop = asyncio.get_running_loop()

        async def next_chunk() -> bytes | None:
            return await anext(chunks, None)

        def body() -> Iterator[bytes]:
            # Runs in the engine thread: each chunk is awaited on the event loop, which gives
            # back-pressure both ways; an exception from ``chunks`` aborts the request mid-body.
            while (chunk := asyncio.run_coroutine_threadsafe(next_chunk(), loop).result()) is not None:
                yield chunk

        def load(api: docker.APIClient) -> tuple[str, ...]:
            loaded: list[str] = []
            for message in api.load_image(data=body(), quiet=True):
                if "error" in message:
                    raise errors.InvalidArgument(f"the engine rejected the image tarball: {message['error']}")
                stream = str(message.get("stream", ""))
                for line in stream.splitlines():
                    for prefix in ("Loaded image: ", "Loaded image ID: "):
                        if line.startswith(prefix):
                            loaded.append(line.removeprefix(prefix).strip())
            return tuple(loaded)

        return await self._long_call("load image", load)

    async def save_image(self, reference: str) -> AsyncGenerator[bytes, None]:
        def open_save(api: docker.APIClient) -> Iterator[bytes]:
            return api.get_image(reference, chunk_size=1 << 20)  # type: ignore[no-any-return]

        async with aclosing(self._stream(f"save image {reference}", open_save)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def storage_root(self) -> Path | None:
        info = await self._call("engine info", lambda api: api.info())
        root = info.get("DockerRootDir")
        return Path(root) if isinstance(root, str) and root else None

    async def pull_image(self, reference: str, auth: RegistryAuth | None) -> AsyncGenerator[int, None]:
        auth_config = {"username": auth.username, "password": auth.password} if auth else None
        repository, _, tag = reference.rpartition(":") if _has_tag(reference) else (reference, "", "latest")

        def open_pull(api: docker.APIClient) -> Iterator[dict[str, Any]]:
            try:
                result: Iterator[dict[str, Any]] = api.pull(
                    repository, tag=tag, stream=True, decode=True, auth_config=auth_config
                )
            except docker.errors.APIError as exc:
                # The engine answers 404/500 itself when it cannot find the image or reach the registry.
                raise _pull_error(reference, str(exc.explanation or exc)) from exc
            return result

        layer_bytes: dict[str, int] = {}
        async with aclosing(self._stream(f"pull {reference}", open_pull)) as messages:
            async for message in messages:
                if "error" in message:
                    raise _pull_error(reference, str(message["error"]))
                detail = message.get("progressDetail") or {}
                if message.get("status") == "Downloading" and "current" in detail:
                    layer_bytes[str(message.get("id"))] = int(detail["current"])
                    yield sum(layer_bytes.values())

    async def tag_image(self, source: str, repository: str, tag: str) -> None:
        await self._call(
            f"tag {source} as {repository}:{tag}", lambda api: api.tag(source, repository, tag, force=True)
        )

    async def inspect_image(self, reference: str) -> ImageDetails | None:
        try:
            info = await self._call(f"inspect image {reference}", lambda api: api.inspect_image(reference))
        except errors.NotFound:
            return None
        return ImageDetails(id=info["Id"], repo_tags=tuple(info.get("RepoTags") or ()), size=int(info.get("Size", 0)))

    async def list_images(self, filters: Filters) -> list[ImageDetails]:
        images = await self._call("list images", lambda api: api.images(filters=_filters(filters)))
        return [
            ImageDetails(id=i["Id"], repo_tags=tuple(i.get("RepoTags") or ()), size=int(i.get("Size", 0)))
            for i in images
        ]

    async def remove_image(self, reference: str, force: bool) -> None:
        await self._call(f"remove image {reference}", lambda api: api.remove_image(reference, force=force))

    # ------------------------------------------------------------------ containers

    async def list_containers(self, all: bool, filters: Filters) -> list[ContainerSummary]:
        found = await self._call("list containers", lambda api: api.containers(all=all, filters=_filters(filters)))
        return [_container_from_list(c) for c in found]

    async def inspect_container(self, name: str) -> ContainerSummary | None:
        try:
            info = await self._call(f"inspect container {name}", lambda api: api.inspect_container(name))
        except errors.NotFound:
            return None
        return ContainerSummary(
            id=info["Id"],
            name=str(info.get("Name", "")).lstrip("/"),
            image_ref=str(info.get("Config", {}).get("Image", "")),
            image_id=str(info.get("Image", "")),
            state=_STATES.get(str(info.get("State", {}).get("Status", "")), ContainerState.UNSPECIFIED),
            labels=dict(info.get("Config", {}).get("Labels") or {}),
        )

    async def create_container(self, spec: ContainerSpec, labels: Mapping[str, str]) -> str:
        def create(api: docker.APIClient) -> str:
            bridged = spec.network != "host"
            host_config = api.create_host_config(
                network_mode=spec.network,
                port_bindings={f"{p.internal}/tcp": p.external for p in spec.ports} if bridged else None,
                mounts=[
                    docker.types.Mount(target=v.mount_point, source=v.volume, type="volume", read_only=v.read_only)
                    for v in spec.volumes
                ],
                cap_add=list(spec.cap_add) or None,
                cap_drop=list(spec.cap_drop) or None,
                restart_policy=_restart_policy(spec),
                nano_cpus=round(spec.max_cpu * 1e9) or None,
                mem_limit=spec.hard_memory_bytes or None,
                mem_reservation=spec.soft_memory_bytes or None,
                devices=[f"{d.host_path}:{d.container_path}:{d.cgroup_permissions}" for d in spec.devices] or None,
            )
            created = api.create_container(
                image=spec.image_ref,
                command=list(spec.command) or None,
                name=spec.instance_name,
                environment=dict(spec.environment) or None,
                labels=dict(labels),
                user=spec.user or "",
                ports=[p.internal for p in spec.ports] if bridged else None,
                host_config=host_config,
                detach=True,
            )
            return str(created["Id"])

        return await self._call(f"create container {spec.instance_name}", create)

    async def start_container(self, name: str) -> None:
        await self._call(f"start container {name}", lambda api: api.start(name))

    async def stop_container(self, name: str, grace_seconds: int) -> None:
        await self._call(f"stop container {name}", lambda api: api.stop(name, timeout=grace_seconds))

    async def rename_container(self, name: str, new_name: str) -> None:
        await self._call(f"rename container {name}", lambda api: api.rename(name, new_name))

    async def remove_container(self, name: str, force: bool) -> None:
        await self._call(f"remove container {name}", lambda api: api.remove_container(name, force=force))

    async def container_logs(self, name: str, follow: bool) -> AsyncGenerator[bytes, None]:
        def open_logs(api: docker.APIClient) -> Iterator[bytes]:
            result: Iterator[bytes] = api.logs(name, stdout=True, stderr=True, stream=True, follow=follow)
            return result

        async with aclosing(self._stream(f"logs of {name}", open_logs)) as chunks:
            async for chunk in chunks:
                yield chunk

    # ------------------------------------------------------------------ volumes

    async def create_volume(self, spec: VolumeSpec) -> VolumeSummary:
        info = await self._call(
            f"create volume {spec.name}",
            lambda api: api.create_volume(
                name=spec.name,
                driver=spec.driver,
                driver_opts=dict(spec.options) or None,
                labels=dict(spec.labels) or None,
            ),
        )
        return _volume(info)

    async def inspect_volume(self, name: str) -> VolumeSummary | None:
        try:
            info = await self._call(f"inspect volume {name}", lambda api: api.inspect_volume(name))
        except errors.NotFound:
            return None
        return _volume(info)

    async def list_volumes(self, filters: Filters) -> list[VolumeSummary]:
        found = await self._call("list volumes", lambda api: api.volumes(filters=_filters(filters)))
        return [_volume(v) for v in (found.get("Volumes") or [])]

    async def remove_volume(self, name: str, force: bool) -> None:
        await self._call(f"remove volume {name}", lambda api: api.remove_volume(name, force=force))

    # ------------------------------------------------------------------ plugins

    async def create_plugin(self, name: str, context_tarball: Path) -> None:
        def create(api: docker.APIClient) -> None:
            # docker-py only offers creation from a directory; posting our own tar
            # avoids unpacking a root filesystem (device nodes and all) onto disk.
            with context_tarball.open("rb") as body:
                response = api._post(api._url("/plugins/create"), params={"name": name}, data=body)
            api._raise_for_status(response)

        await self._long_call(f"create plugin {name}", create)

    async def enable_plugin(self, name: str, timeout_seconds: int) -> None:
        await self._long_call(f"enable plugin {name}", lambda api: api.enable_plugin(name, timeout=timeout_seconds))

    async def disable_plugin(self, name: str, force: bool) -> None:
        await self._call(f"disable plugin {name}", lambda api: api.disable_plugin(name, force=force))

    async def remove_plugin(self, name: str, force: bool) -> None:
        await self._call(f"remove plugin {name}", lambda api: api.remove_plugin(name, force=force))

    async def list_plugins(self) -> list[PluginSummary]:
        found = await self._call("list plugins", lambda api: api.plugins())
        return [
            PluginSummary(
                id=str(p.get("Id", "")),
                instance_name=str(p.get("Name", "")),
                enabled=bool(p.get("Enabled")),
                config=json.dumps(p.get("Config") or {}, sort_keys=True),
            )
            for p in found
        ]


def _has_tag(reference: str) -> bool:
    """True when ``reference`` ends in ``:tag`` (a registry ``host:port/`` is not a tag)."""
    return ":" in reference.rsplit("/", 1)[-1]


def _pull_error(reference: str, message: str) -> errors.ContainerzError:
    lowered = message.lower()
    if "not found" in lowered or "manifest unknown" in lowered or "does not exist" in lowered:
        return errors.NotFound(f"pull {reference}: {message}")
    if "unauthorized" in lowered or "authentication required" in lowered or "denied" in lowered:
        return errors.PermissionDenied(f"pull {reference}: {message}")
    if "connection refused" in lowered or "no such host" in lowered or "timeout" in lowered:
        return errors.Unavailable(f"pull {reference}: registry unreachable: {message}")
    return errors.Internal(f"pull {reference}: Docker engine error: {message}")


def _filters(filters: Filters) -> dict[str, list[str]] | None:
    return {key: list(values) for key, values in filters.items()} or None


def _restart_policy(spec: ContainerSpec) -> dict[str, Any] | None:
    if spec.restart.value == "no":
        return None
    policy: dict[str, Any] = {"Name": spec.restart.value}
    if spec.restart.value == "on-failure":
        policy["MaximumRetryCount"] = spec.restart_attempts
    return policy


def _container_from_list(raw: Mapping[str, Any]) -> ContainerSummary:
    names = [str(n).lstrip("/") for n in raw.get("Names") or ()]
    return ContainerSummary(
        id=str(raw.get("Id", "")),
        name=names[0] if names else "",
        image_ref=str(raw.get("Image", "")),
        image_id=str(raw.get("ImageID", "")),
        state=_STATES.get(str(raw.get("State", "")), ContainerState.UNSPECIFIED),
        labels=dict(raw.get("Labels") or {}),
    )


def _volume(raw: Mapping[str, Any]) -> VolumeSummary:
    return VolumeSummary(
        name=str(raw.get("Name", "")),
        driver=str(raw.get("Driver", "")),
        created=_parse_time(raw.get("CreatedAt")),
        options={str(k): str(v) for k, v in (raw.get("Options") or {}).items()},
        labels={str(k): str(v) for k, v in (raw.get("Labels") or {}).items()},
        mountpoint=str(raw.get("Mountpoint", "")),
    )


@functools.lru_cache(maxsize=256)
def _parse_time(value: str | None) -> datetime | None:
    """Docker's RFC 3339 timestamps, which may carry nanoseconds Python cannot parse."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None

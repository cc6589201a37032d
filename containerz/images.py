"""Images: receive, load, pull, download, list and remove, on the engine."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

import structlog

from containerz import desired, errors
from containerz.download import http_download
from containerz.engine.base import Engine, RegistryAuth
from containerz.fsutil import discard, finish_despite_cancellation, read_chunks
from containerz.imageload import ImageLoad
from containerz.locks import KeyedLocks
from containerz.model import ImageDetails, ImageSummary
from containerz.settings import Settings
from containerz.sshfetch import parse_location, ssh_download
from containerz.threads import iterate_in_thread
from containerz.upload import PARTIAL_SUFFIX
from state import Kind, StateWriter

log = structlog.get_logger(__name__)

_PROGRESS_INTERVAL_SECONDS = 0.25
_FILE_CHUNK_BYTES = 4 << 20


class RemoteProtocol(enum.Enum):
    REGISTRY = "registry"
    HTTP = "http"
    HTTPS = "https"
    SFTP = "sftp"
    SCP = "scp"


@dataclass(frozen=True)
class RemoteSource:
    """Where Deploy's ``remote_download`` asks us to fetch the image from."""

    protocol: RemoteProtocol
    path: str
    auth: RegistryAuth | None = None


def split_reference(reference: str) -> tuple[str, str]:
    """``repo[:tag]`` into (repo, tag); a registry ``host:port/`` prefix is not a tag."""
    head, slash, last = reference.rpartition("/")
    name, colon, tag = last.partition(":")
    return f"{head}{slash}{name}", (tag if colon else "")


class ImageManager:
    def __init__(self, engine: Engine, settings: Settings, state: StateWriter) -> None:
        self._engine = engine
        self._state = state
        # Run after an image is loaded and before it is recorded as deployed: the active uses it
        # to get the image onto the standby first.
        self.after_load: Callable[[str], Awaitable[None]] | None = None
        self._uploads_dir = settings.uploads_dir
        self._state_dir = settings.data_dir
        self._locks = KeyedLocks()
        self._downloads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="download")

    async def check_engine(self, name: str, tag: str) -> None:
        """Fail now, rather than after the client has sent the whole image, if it cannot be loaded."""
        try:
            await self._engine.inspect_image(f"{name}:{tag}")  # the cheapest call that is a real one
        except errors.EngineUnavailable as exc:
            raise errors.EngineUnavailable(f"Deploy {name}:{tag}: cannot load images now: {exc.message}") from exc

    async def receive(self, name: str, tag: str, size: int) -> ImageLoad[ImageDetails]:
        """An upload of ``size`` bytes that streams into the engine as ``name:tag`` as it arrives."""
        self._state.check_writable()
        reference = f"{name}:{tag}"
        root = await self._engine.storage_root()
        previous = await self._engine.inspect_image(reference)
        return ImageLoad(
            reference,
            size,
            functools.partial(self._load_as, reference, previous),
            free_space_in=root if root is not None and root.is_dir() else self._uploads_dir,
        )

    async def install(self, tarball: Path, name: str, tag: str) -> ImageDetails:
        """Load a downloaded tarball into the engine as exactly ``name:tag``."""
        size = (await asyncio.to_thread(tarball.stat)).st_size
        async with (
            await self.receive(name, tag, size) as load,
            aclosing(read_chunks(tarball, _FILE_CHUNK_BYTES)) as chunks,
        ):
            async for chunk in chunks:
                load.admit(len(chunk))
                await load.write(chunk)
            return await load.finish()

    async def _load_as(
        self, reference: str, previous: ImageDetails | None, chunks: AsyncIterator[bytes]
    ) -> ImageDetails:
        """Run the engine's load under the journal's intent, check ``reference`` is what it
        loaded, and once that is recorded drop the image ``reference`` named before, if nothing
        else holds it. A load that fails or is cut off is undone on the engine before its
        outcome is recorded, so the journal never says "not deployed" of an image the engine has."""
        name, _, tag = reference.rpartition(":")
        async with self._state.change(desired.put_image(name, tag)) as operation:
            loading = asyncio.ensure_future(self._engine.load_image(chunks))
            try:
                image = await self._check_loaded(reference, await asyncio.shield(loading))
                if self.after_load is not None:
                    await self.after_load(reference)
            except BaseException:
                await finish_despite_cancellation(self._undo_load(reference, previous, loading))
                raise
            operation.facts.update(desired.image_facts(image))
        if previous is not None and previous.id != image.id:
            await self._discard_if_orphaned(previous.id)
        return image

    async def _undo_load(
        self, reference: str, previous: ImageDetails | None, loading: asyncio.Future[tuple[str, ...]]
    ) -> None:
        """The engine may still finish a load nobody waits for: let it, then put the tag back."""
        with contextlib.suppress(Exception):
            await loading
        async with self._locks.hold(reference):
            current = await self._engine.inspect_image(reference)
            if current is None or (previous is not None and current.id == previous.id):
                return
            with contextlib.suppress(errors.ContainerzError):
                if previous is None:
                    await self._engine.remove_image(reference, force=False)
                else:
                    name, _, tag = reference.rpartition(":")
                    await self._engine.tag_image(previous.id, name, tag)
                    await self._discard_if_orphaned(current.id)
            log.info("image.load_undone", image=reference)

    async def mirror(
        self, name: str, tag: str, chunks: AsyncIterator[bytes], expected_id: str | None = None
    ) -> ImageDetails:
        """Load an image the journal records (or is about to), saved by the other control
        processor's engine (so already tagged exactly ``name:tag``), and check it is the image
        the journal names: a save and load keep an image's ID, the digest of its config."""
        reference = f"{name}:{tag}"
        previous = await self._engine.inspect_image(reference)
        image = await self._check_loaded(reference, await self._engine.load_image(chunks))
        if expected_id is not None and image.id != expected_id:
            raise errors.Internal(
                f"{reference} from the other control processor is {image.id}, but the journal records {expected_id}"
            )
        if previous is not None and previous.id != image.id:
            await self._discard_if_orphaned(previous.id)
        return image

    async def _check_loaded(self, reference: str, loaded: tuple[str, ...]) -> ImageDetails:
        async with self._locks.hold(reference):
            image = await self._engine.inspect_image(reference)
            if image is None:
                raise errors.Internal(f"the engine loaded {list(loaded)} but {reference} is not present afterwards")
            return image

    async def fetch(self, name: str, tag: str, source: RemoteSource) -> AsyncGenerator[int, None]:
        """Fetch ``name:tag`` from ``source``, yielding bytes received, at most four times a second."""
        self._state.check_writable()
        if source.protocol is RemoteProtocol.REGISTRY:
            progress = self._pull(name, tag, source)
        elif source.protocol in (RemoteProtocol.HTTP, RemoteProtocol.HTTPS):
            progress = self._download(name, tag, lambda file: http_download(source.path, file, source.auth))
        else:
            location = parse_location(source.path)
            use_sftp = source.protocol is RemoteProtocol.SFTP
            progress = self._download(
                name, tag, lambda file: ssh_download(location, file, source.auth, use_sftp, self._state_dir)
            )
        last_report = 0.0
        async with aclosing(progress) as received_so_far:
            async for received in received_so_far:
                now = time.monotonic()
                if now - last_report >= _PROGRESS_INTERVAL_SECONDS:
                    last_report = now
                    yield received

    async def _pull(self, name: str, tag: str, source: RemoteSource) -> AsyncGenerator[int, None]:
        reference = source.path or f"{name}:{tag}"
        async with self._locks.hold(f"{name}:{tag}"), self._state.change(desired.put_image(name, tag)) as operation:
            async with aclosing(self._engine.pull_image(reference, source.auth)) as pulled:
                async for received in pulled:
                    yield received
            pulled_repo, pulled_tag = split_reference(reference)
            if (pulled_repo, pulled_tag or "latest") != (name, tag):
                await self._engine.tag_image(reference, name, tag)
                # Keep only the name the client asked for; the image stays, held by name:tag.
                await self._engine.remove_image(reference, force=False)
            if self.after_load is not None:
                await self.after_load(f"{name}:{tag}")
            image = await self._engine.inspect_image(f"{name}:{tag}")
            if image is None:
                raise errors.Internal(f"the engine pulled {reference} but {name}:{tag} is not present afterwards")
            operation.facts.update(desired.image_facts(image))

    async def _download(
        self, name: str, tag: str, download: Callable[[Path], Iterator[int]]
    ) -> AsyncGenerator[int, None]:
        """Run a blocking ``download(destination)`` in a thread, then load what it fetched."""
        destination = self._uploads_dir / f"download-{time.time_ns()}{PARTIAL_SUFFIX}"
        try:
            downloading = iterate_in_thread(self._downloads, lambda: download(destination))
            async with aclosing(downloading) as downloaded:
                async for received in downloaded:
                    yield received
            await self.install(destination, name, tag)
        finally:
            await discard(destination)

    async def list(self, limit: int, filters: Mapping[str, Sequence[str]]) -> list[ImageSummary]:
        summaries = sorted(
            (
                ImageSummary(id=image.id, name=repo, tag=tag)
                for image in await self._engine.list_images(filters)
                for repo, tag in (split_reference(ref) for ref in image.repo_tags if ref != "<none>:<none>")
            ),
            key=lambda s: (s.name, s.tag),
        )
        return summaries[:limit] if limit > 0 else summaries

    async def remove(self, name: str, tag: str, force: bool) -> None:
        reference = f"{name}:{tag}"
        async with self._locks.hold(reference):
            image = await self._engine.inspect_image(reference)
            if image is None or reference not in image.repo_tags:
                raise errors.NotFound(f"image {reference} not found; ListImage shows what is deployed")
            if len(image.repo_tags) == 1:
                await self._check_unused(image, reference, force)
            async with self._state.change(desired.remove(Kind.IMAGE, reference)):
                await self._engine.remove_image(reference, force=force)

    async def roll_back(self, reference: str) -> str | None:
        """Untag ``reference`` if a crash cut its Deploy off before the outcome was recorded."""
        async with self._locks.hold(reference):
            if reference in self._state.desired.of(Kind.IMAGE):
                return None
            if await self._engine.inspect_image(reference) is None:
                return None
            await self._engine.remove_image(reference, force=False)
            return "removed"

    async def _check_unused(self, image: ImageDetails, reference: str, force: bool) -> None:
        users = [
            c
            for c in await self._engine.list_containers(all=True, filters={})
            if c.image_id == image.id or c.image_ref == reference
        ]
        running = sorted(c.name for c in users if c.state.value == "RUNNING")
        if running:
            raise errors.FailedPrecondition(
                f"image {reference} is used by running container(s) {running}; stop and remove them first"
            )
        if users and not force:
            raise errors.FailedPrecondition(
                f"image {reference} is used by stopped container(s) {sorted(c.name for c in users)}; "
                "remove them first, or set force"
            )

    async def _discard_if_orphaned(self, image_id: str) -> None:
        """A re-deploy of name:tag leaves the old image untagged; drop it unless a container uses it."""
        old = await self._engine.inspect_image(image_id)
        if old is None or old.repo_tags:
            return
        containers = await self._engine.list_containers(all=True, filters={})
        if any(c.image_id == image_id for c in containers):
            return
        try:
            await self._engine.remove_image(image_id, force=False)
            log.info("image.orphan_removed", image_id=image_id)
        except errors.ContainerzError as exc:
            log.warning("image.orphan_kept", image_id=image_id, reason=exc.message)

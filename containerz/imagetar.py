"""Make an uploaded image tarball loadable, whatever ``docker save`` flavour produced it.

Two facts drive this module:

* Engines before Docker 25 (Debian's 20.10 among them) load only the legacy layout with
  a ``manifest.json``; a pure OCI image layout (``index.json`` and ``blobs/``, as written
  by skopeo, buildah or ``docker save`` with the containerd store) is refused.
* ``docker load`` re-tags whatever ``RepoTags`` the tarball carries. Deploying
  ``app:v2`` from a tarball saved as ``app:latest`` would silently move ``app:latest``.

So we append a ``manifest.json`` naming exactly the tag the client asked for. Docker
extracts the archive in order, so the appended copy wins over any earlier one.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any

from containerz import errors

_GZIP_MAGIC = b"\x1f\x8b"
_OCI_INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


def prepare_for_load(tarball: Path, repo_tag: str) -> None:
    """Rewrite ``tarball`` in place so that loading it yields exactly one image tagged ``repo_tag``."""
    _decompress_in_place(tarball)
    try:
        with tarfile.open(tarball, "r:") as archive:
            members = {_normalise(m.name): m for m in archive.getmembers() if m.isfile()}
            if "manifest.json" in members:
                entries = _read_json(archive, members["manifest.json"])
                manifest = _pin_legacy_manifest(entries, repo_tag)
            elif "index.json" in members:
                manifest = _manifest_from_oci_layout(archive, members, repo_tag)
            else:
                raise errors.InvalidArgument(
                    "the upload is not an image tarball: it has neither manifest.json (docker save) "
                    "nor index.json (OCI image layout)"
                )
    except tarfile.TarError as exc:
        raise errors.InvalidArgument(f"the upload is not a readable tar archive: {exc}") from exc
    _append_member(tarball, "manifest.json", json.dumps(manifest).encode())


def _normalise(name: str) -> str:
    return name.removeprefix("./")


def _read_json(archive: tarfile.TarFile, member: tarfile.TarInfo) -> Any:
    extracted = archive.extractfile(member)
    if extracted is None:
        raise errors.InvalidArgument(f"{member.name} in the image tarball is not a regular file")
    try:
        return json.load(extracted)
    except ValueError as exc:
        raise errors.InvalidArgument(f"{member.name} in the image tarball is not valid JSON: {exc}") from exc


def _pin_legacy_manifest(entries: Any, repo_tag: str) -> list[dict[str, Any]]:
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        raise errors.InvalidArgument("manifest.json in the image tarball is not a list of image entries")
    if len(entries) != 1:
        raise errors.InvalidArgument(
            f"the image tarball holds {len(entries)} images; Deploy loads one image per name:tag"
        )
    return [{**entries[0], "RepoTags": [repo_tag]}]


def _blob_path(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    if not encoded or "/" in encoded or ".." in encoded:
        raise errors.InvalidArgument(f"malformed digest {digest!r} in the OCI image layout")
    return f"blobs/{algorithm}/{encoded}"


def _manifest_from_oci_layout(
    archive: tarfile.TarFile, members: dict[str, tarfile.TarInfo], repo_tag: str
) -> list[dict[str, Any]]:
    def blob(digest: str) -> Any:
        path = _blob_path(digest)
        if path not in members:
            raise errors.InvalidArgument(f"the OCI image layout references {path}, which is missing")
        return _read_json(archive, members[path])

    descriptor: dict[str, Any] = {"mediaType": "application/vnd.oci.image.index.v1+json"}
    document = _read_json(archive, members["index.json"])
    while descriptor.get("mediaType") in _OCI_INDEX_TYPES:
        manifests = [m for m in document.get("manifests", []) if _is_linux_amd64_or_unspecified(m)]
        if len(manifests) != 1:
            raise errors.InvalidArgument(
                f"the OCI image layout lists {len(manifests)} linux/amd64 images; Deploy loads exactly one"
            )
        descriptor = manifests[0]
        document = blob(descriptor["digest"])
    layers = [_blob_path(layer["digest"]) for layer in document.get("layers", [])]
    for layer in layers:
        if layer not in members:
            raise errors.InvalidArgument(f"the OCI image layout references {layer}, which is missing")
    return [{"Config": _blob_path(document["config"]["digest"]), "RepoTags": [repo_tag], "Layers": layers}]


def _is_linux_amd64_or_unspecified(descriptor: dict[str, Any]) -> bool:
    platform = descriptor.get("platform")
    return platform is None or (platform.get("os"), platform.get("architecture")) == ("linux", "amd64")


def _append_member(tarball: Path, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = int(time.time())
    info.mode = 0o644
    with tarfile.open(tarball, "a") as archive:
        archive.addfile(info, io.BytesIO(content))


def _decompress_in_place(tarball: Path) -> None:
    with tarball.open("rb") as head:
        if head.read(2) != _GZIP_MAGIC:
            return
    inflated = tarball.with_name(tarball.name + ".inflated")
    try:
        with gzip.open(tarball, "rb") as source, inflated.open("wb") as target:
            shutil.copyfileobj(source, target, length=1 << 20)
    except (OSError, EOFError) as exc:
        inflated.unlink(missing_ok=True)
        raise errors.InvalidArgument(f"the upload looks gzip-compressed but cannot be decompressed: {exc}") from exc
    inflated.replace(tarball)

"""Make an uploaded image tarball loadable as it streams past, whatever ``docker save`` flavour made it.

Two facts drive this module:

* Engines before Docker 25 (Debian's 20.10 among them) load only the legacy layout with
  a ``manifest.json``; a pure OCI image layout (``index.json`` and ``blobs/``, as written
  by skopeo, buildah or ``docker save`` with the containerd store) is refused.
* ``docker load`` re-tags whatever ``RepoTags`` the tarball carries. Deploying
  ``app:v2`` from a tarball saved as ``app:latest`` would silently move ``app:latest``.

So :class:`LoadableImageStream` passes the archive through to the engine member by member,
holds back the tarball's own ``manifest.json`` and, once the whole upload has arrived, appends
one naming exactly the tag the client asked for (built from ``index.json`` for an OCI layout).
Holding it back has a second use: an upload cut short never reaches the engine with a
manifest, so the engine cannot load half an image.
"""

from __future__ import annotations

import json
import tarfile
import time
import zlib
from collections.abc import Callable
from typing import Any

from containerz import errors

_BLOCK = 512
_END_OF_ARCHIVE = bytes(2 * _BLOCK)
_GZIP_MAGIC = b"\x1f\x8b"
_EXTENDED_HEADER_TYPES = {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
# JSON documents (manifest.json, index.json and an OCI layout's manifest and config blobs) are
# kept in memory to build the pinned manifest; layers are not. These bound that memory.
_MAX_DOCUMENT_BYTES = 1 << 20
_MAX_KEPT_BYTES = 16 << 20
_OCI_INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


def _padded(size: int) -> int:
    return -(-size // _BLOCK) * _BLOCK


class _Member:
    """The tar member whose data is streaming past."""

    def __init__(self, name: str, size: int, forward: bool, keep: bool) -> None:
        self.name = name
        self.size = size
        self.remaining = _padded(size)  # data and padding still to come
        self.forward = forward
        self.keep = keep
        self.content = bytearray()


class LoadableImageStream:
    """A push parser: :meth:`feed` the upload's bytes, send what it returns to the engine's
    image load, and send what :meth:`finish` returns once the upload is complete.

    Only tar headers and small JSON documents are buffered; layer data passes straight through.
    """

    def __init__(self, repo_tag: str) -> None:
        self._repo_tag = repo_tag
        self._inflate: Callable[[bytes], bytes] | None = None
        self._sniffed = b""
        self._header = bytearray()
        self._extended: list[bytes] = []  # raw pax/GNU extension blocks waiting for their member
        self._long_name: str | None = None
        self._member: _Member | None = None
        self._ended = False
        self._documents: dict[str, bytes] = {}
        self._kept_bytes = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Take the next bytes of the upload; return the bytes to pass on to the engine."""
        if self._inflate is None:
            self._sniffed += data
            if len(self._sniffed) < len(_GZIP_MAGIC):
                return []
            data, self._sniffed = self._sniffed, b""
            self._inflate = _gunzipper() if data.startswith(_GZIP_MAGIC) else bytes
        return self._parse(self._inflate(data))

    def finish(self) -> list[bytes]:
        """The upload is complete: return the pinned manifest.json and the end of the archive."""
        if self._inflate is None:  # fewer than two bytes in all
            self._parse(self._sniffed)
        if self._member is not None or self._header or self._extended:
            raise errors.InvalidArgument("the image tarball is truncated: it ends inside a tar member")
        return [*_file_member("manifest.json", json.dumps(self._pinned_manifest()).encode()), _END_OF_ARCHIVE]

    # ------------------------------------------------------------------ parsing

    def _parse(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        view = memoryview(data)
        while view and not self._ended:
            if self._member is not None:
                view = self._consume_data(view, out)
            else:
                wanted = _BLOCK - len(self._header)
                self._header += view[:wanted]
                view = view[wanted:]
                if len(self._header) == _BLOCK:
                    header, self._header = bytes(self._header), bytearray()
                    self._start_member(header, out)
        return out

    def _consume_data(self, view: memoryview, out: list[bytes]) -> memoryview:
        member = self._member
        assert member is not None
        take = min(member.remaining, len(view))
        piece, rest = view[:take], view[take:]
        if member.keep:
            wanted = member.size - len(member.content)
            if wanted > 0:
                member.content += piece[:wanted]
        if member.forward:
            out.append(_to_bytes(piece))
        member.remaining -= take
        if member.remaining == 0:
            self._member = None
            self._finish_member(member)
        return rest

    def _start_member(self, header: bytes, out: list[bytes]) -> None:
        if header == bytes(_BLOCK):
            self._ended = True  # end of archive; anything after it is padding
            return
        try:
            info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise errors.InvalidArgument(f"the upload is not a readable tar archive: {exc}") from exc
        if info.type in _EXTENDED_HEADER_TYPES:
            if info.size > _MAX_DOCUMENT_BYTES:
                raise errors.InvalidArgument(f"the image tarball has a {info.size}-byte tar extended header")
            self._extended.append(header)
            self._member = _Member("", info.size, forward=False, keep=True)
            return
        name = _normalise(self._long_name or info.name)
        self._long_name = None
        held_back = name == "manifest.json"
        if name in ("manifest.json", "index.json") and info.size > _MAX_DOCUMENT_BYTES:
            raise errors.InvalidArgument(f"{name} in the image tarball is {info.size} bytes, too large to be an index")
        keep = held_back or name == "index.json" or (name.startswith("blobs/") and self._room_for(info.size))
        if not held_back:
            out.extend(self._extended)
            out.append(header)
        self._extended = []
        self._member = _Member(name, info.size if info.isfile() else 0, forward=not held_back, keep=keep)
        if self._member.remaining == 0:
            self._member = None

    def _room_for(self, size: int) -> bool:
        return size <= _MAX_DOCUMENT_BYTES and self._kept_bytes + size <= _MAX_KEPT_BYTES

    def _finish_member(self, member: _Member) -> None:
        if not member.name:  # an extension block: it names (or describes) the next member
            header = self._extended[-1]
            self._extended[-1] = header + bytes(member.content) + bytes(_padded(member.size) - member.size)
            typeflag = header[156:157]
            if typeflag == tarfile.GNUTYPE_LONGNAME:
                self._long_name = bytes(member.content).rstrip(b"\0").decode("utf-8", "surrogateescape")
            elif typeflag == tarfile.XHDTYPE:
                self._long_name = _pax_path(bytes(member.content)) or self._long_name
            return
        if member.keep:
            self._documents[member.name] = bytes(member.content)
            self._kept_bytes += member.size

    # ------------------------------------------------------------------ the manifest

    def _pinned_manifest(self) -> list[dict[str, Any]]:
        if "manifest.json" in self._documents:
            return _pin_legacy_manifest(self._read_json("manifest.json"), self._repo_tag)
        if "index.json" in self._documents:
            return self._manifest_from_oci_layout()
        raise errors.InvalidArgument(
            "the upload is not an image tarball: it has neither manifest.json (docker save) "
            "nor index.json (OCI image layout)"
        )

    def _read_json(self, name: str) -> Any:
        if name not in self._documents:
            raise errors.InvalidArgument(f"the OCI image layout references {name}, which is missing or too large")
        try:
            return json.loads(self._documents[name])
        except ValueError as exc:
            raise errors.InvalidArgument(f"{name} in the image tarball is not valid JSON: {exc}") from exc

    def _manifest_from_oci_layout(self) -> list[dict[str, Any]]:
        descriptor: dict[str, Any] = {"mediaType": "application/vnd.oci.image.index.v1+json"}
        document = self._read_json("index.json")
        while descriptor.get("mediaType") in _OCI_INDEX_TYPES:
            manifests = [m for m in document.get("manifests", []) if _is_linux_amd64_or_unspecified(m)]
            if len(manifests) != 1:
                raise errors.InvalidArgument(
                    f"the OCI image layout lists {len(manifests)} linux/amd64 images; Deploy loads exactly one"
                )
            descriptor = manifests[0]
            document = self._read_json(_blob_path(descriptor["digest"]))
        # Layers are not kept, so whether they are all present is the engine's to check.
        layers = [_blob_path(layer["digest"]) for layer in document.get("layers", [])]
        return [{"Config": _blob_path(document["config"]["digest"]), "RepoTags": [self._repo_tag], "Layers": layers}]


def _gunzipper() -> Callable[[bytes], bytes]:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def inflate(data: bytes) -> bytes:
        try:
            return decompressor.decompress(data)
        except zlib.error as exc:
            raise errors.InvalidArgument(f"the upload looks gzip-compressed but cannot be decompressed: {exc}") from exc

    return inflate


def _to_bytes(piece: memoryview) -> bytes:
    """The bytes of ``piece``, without a copy when it spans the whole chunk it came from."""
    whole = piece.obj
    if isinstance(whole, bytes) and len(whole) == piece.nbytes:
        return whole
    return piece.tobytes()


def _pax_path(records: bytes) -> str | None:
    """The ``path`` of a pax extended header (records are ``"<length> <key>=<value>\\n"``)."""
    path = None
    while records:
        length_field = records.partition(b" ")[0]
        if not length_field.isdigit() or int(length_field) == 0:
            return path
        record, records = records[: int(length_field)], records[int(length_field) :]
        key, _, value = record[len(length_field) + 1 :].rstrip(b"\n").partition(b"=")
        if key == b"path":
            path = value.decode("utf-8", "surrogateescape")
    return path


def _file_member(name: str, content: bytes) -> list[bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = int(time.time())
    info.mode = 0o644
    return [info.tobuf(tarfile.USTAR_FORMAT), content + bytes(_padded(len(content)) - len(content))]


def _normalise(name: str) -> str:
    return name.removeprefix("./")


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


def _is_linux_amd64_or_unspecified(descriptor: dict[str, Any]) -> bool:
    platform = descriptor.get("platform")
    return platform is None or (platform.get("os"), platform.get("architecture")) == ("linux", "amd64")

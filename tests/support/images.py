"""Build `docker save`-style image tarballs and managed-plugin rootfs tarballs without Docker.

Images are FROM scratch: /bin/busybox (copied from the host's busybox-static) with a symlink per
applet. Everything but the optional filler layer is deterministic, so equal inputs give equal ids.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

BUSYBOX = Path("/bin/busybox")
VOLPLUGIN_SOURCE = Path(__file__).resolve().parent / "volplugin"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CREATED = "1970-01-01T00:00:00Z"
CHUNK = 1024 * 1024

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True)
class ImageInfo:
    image_id: str  # "sha256:<hex of the config json>"
    repo_tag: str
    size: int  # bytes of the image tarball
    layer_digests: tuple[str, ...]  # uncompressed, so these are both the diff_ids and the OCI blob digests


@dataclass(frozen=True)
class _Layer:
    path: Path
    digest: str
    size: int

    @property
    def hex(self) -> str:
        return self.digest.removeprefix("sha256:")


class _HashingWriter:
    """A write-only file that hashes what goes through it (tarfile needs write and tell)."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self._hash = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self._target.write(data)
        self._size += len(data)
        return len(data)

    def tell(self) -> int:
        return self._size

    def digest(self) -> str:
        return f"sha256:{self._hash.hexdigest()}"


class _RandomReader:
    """An endless source of incompressible bytes for tarfile.addfile."""

    def read(self, size: int = CHUNK) -> bytes:
        return os.urandom(size)


def _info(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    return info


def _directory(name: str, mode: int = 0o755) -> tarfile.TarInfo:
    return _info(name, tarfile.DIRTYPE, mode)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    tar.addfile(_info(name, mode=mode, size=len(data)), io.BytesIO(data))


def _add_path(tar: tarfile.TarFile, name: str, source: Path, mode: int) -> None:
    with source.open("rb") as handle:
        tar.addfile(_info(name, mode=mode, size=source.stat().st_size), handle)


def _parents(paths: Iterable[str]) -> list[str]:
    parents = {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}
    return sorted(parents, key=lambda d: (d.count("/"), d))


def _write_layer(directory: Path, fill: Callable[[tarfile.TarFile], None]) -> _Layer:
    """Write one uncompressed layer tar to a temp file, hashing it on the way."""
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".layer-", suffix=".tar", delete=False) as handle:
        path = Path(handle.name)
        try:
            writer = _HashingWriter(handle)
            with tarfile.open(fileobj=writer, mode="w", format=tarfile.PAX_FORMAT, copybufsize=CHUNK) as tar:  # type: ignore[call-overload]
                fill(tar)
        except BaseException:
            path.unlink()
            raise
    return _Layer(path, writer.digest(), writer.tell())


def busybox_applets() -> list[str]:
    listed = subprocess.run([str(BUSYBOX), "--list"], check=True, capture_output=True, text=True).stdout
    return sorted({a for a in listed.split() if a and "/" not in a and a != "busybox"})


def _rootfs_layer(directory: Path, files: dict[str, bytes]) -> _Layer:
    extra = {name.lstrip("/"): data for name, data in files.items()}

    def fill(tar: tarfile.TarFile) -> None:
        tar.addfile(_directory("bin"))
        tar.addfile(_directory("tmp", 0o1777))
        _add_path(tar, "bin/busybox", BUSYBOX, 0o755)
        for applet in busybox_applets():
            if f"bin/{applet}" not in extra:
                link = _info(f"bin/{applet}", tarfile.SYMTYPE, 0o777)
                link.linkname = "busybox"
                tar.addfile(link)
        for parent in _parents(extra):
            if parent not in ("bin", "tmp"):
                tar.addfile(_directory(parent))
        for name, data in sorted(extra.items()):
            _add_bytes(tar, name, data, 0o755 if name.startswith("bin/") else 0o644)

    return _write_layer(directory, fill)


def _filler_layer(directory: Path, size: int) -> _Layer:
    def fill(tar: tarfile.TarFile) -> None:
        tar.addfile(_info("filler.bin", size=size), _RandomReader())

    return _write_layer(directory, fill)


def _image_config(cmd: list[str], env: list[str] | None, layers: list[_Layer]) -> bytes:
    variables = list(env or [])
    if not any(v.startswith("PATH=") for v in variables):
        variables.insert(0, DEFAULT_PATH)
    history = [{"created": CREATED, "created_by": "containerz-py tests/support/images.py"} for _ in layers]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {"Cmd": cmd, "Env": variables},
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
        "history": history,
    }
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _descriptor(media_type: str, digest: str, size: int) -> dict[str, object]:
    return {"mediaType": media_type, "digest": digest, "size": size}


def _write_docker(tar: tarfile.TarFile, repo: str, tag: str, config: bytes, layers: list[_Layer]) -> None:
    config_name = f"{_digest(config).removeprefix('sha256:')}.json"
    for layer in layers:
        tar.addfile(_directory(layer.hex))
        _add_bytes(tar, f"{layer.hex}/VERSION", b"1.0")
        _add_path(tar, f"{layer.hex}/layer.tar", layer.path, 0o644)
    _add_bytes(tar, config_name, config)
    manifest = [
        {"Config": config_name, "RepoTags": [f"{repo}:{tag}"], "Layers": [f"{x.hex}/layer.tar" for x in layers]}
    ]
    _add_bytes(tar, "manifest.json", _json(manifest))
    _add_bytes(tar, "repositories", _json({repo: {tag: layers[-1].hex}}))


def _write_oci(tar: tarfile.TarFile, repo: str, tag: str, config: bytes, layers: list[_Layer]) -> None:
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": _descriptor(MEDIA_CONFIG, _digest(config), len(config)),
            "layers": [_descriptor(MEDIA_LAYER, layer.digest, layer.size) for layer in layers],
        }
    )
    reference = _descriptor(MEDIA_MANIFEST, _digest(manifest), len(manifest))
    reference["annotations"] = {"org.opencontainers.image.ref.name": tag, "io.containerd.image.name": f"{repo}:{tag}"}
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [reference]}
    _add_bytes(tar, "oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
    _add_bytes(tar, "index.json", _json(index))
    for directory in ("blobs", "blobs/sha256"):
        tar.addfile(_directory(directory))
    for layer in layers:
        _add_path(tar, f"blobs/sha256/{layer.hex}", layer.path, 0o644)
    for blob in (config, manifest):
        _add_bytes(tar, f"blobs/sha256/{_digest(blob).removeprefix('sha256:')}", blob)


def build_image_tar(
    dest: Path,
    repo: str,
    tag: str = "latest",
    *,
    cmd: list[str],
    fmt: Literal["docker", "oci"] = "docker",
    filler_bytes: int = 0,
    env: list[str] | None = None,
    files: dict[str, bytes] | None = None,
) -> ImageInfo:
    """Write an image tarball to dest, as `docker save` (fmt="docker") or as a pure OCI layout."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    layers = [_rootfs_layer(dest.parent, files or {})]
    try:
        if filler_bytes > 0:
            layers.append(_filler_layer(dest.parent, filler_bytes))
        config = _image_config(cmd, env, layers)
        with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
            (_write_docker if fmt == "docker" else _write_oci)(tar, repo, tag, config, layers)
    finally:
        for layer in layers:
            layer.path.unlink(missing_ok=True)
    return ImageInfo(_digest(config), f"{repo}:{tag}", dest.stat().st_size, tuple(x.digest for x in layers))


def build_plugin_rootfs_tar(dest: Path, plugin_binary: Path) -> None:
    """The rootfs of a managed plugin (no config.json): the binary at /plugin and its socket dir."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("run", "run/docker", "run/docker/plugins"):
            tar.addfile(_directory(directory))
        tar.addfile(_directory("tmp", 0o1777))
        _add_path(tar, "plugin", plugin_binary, 0o755)


def plugin_config_json(socket: str = "plugin.sock") -> str:
    """A managed-plugin config.json for the volume plugin built by build_volume_plugin."""
    config = {
        "Description": "containerz-py test volume plugin (in-memory volumes)",
        "Documentation": "https://github.com/openconfig/gnoi/tree/main/containerz",
        "Entrypoint": ["/plugin"],
        "WorkDir": "/",
        "Interface": {"Socket": socket, "Types": ["docker.volumedriver/1.0"]},
        "Network": {"Type": "host"},
        "Linux": {"Capabilities": [], "AllowAllDevices": False, "Devices": []},
        "PropagatedMount": "",
        "Mounts": [],
        "Env": [],
        "Args": {"Name": "", "Description": "", "Settable": [], "Value": []},
    }
    return json.dumps(config)


def build_volume_plugin(out_dir: Path) -> Path:
    """Build tests/support/volplugin (static, stdlib only) into out_dir/volplugin, unless it is up to date."""
    binary = out_dir / "volplugin"
    sources = [VOLPLUGIN_SOURCE / "main.go", VOLPLUGIN_SOURCE / "go.mod"]
    if binary.exists() and all(binary.stat().st_mtime > s.stat().st_mtime for s in sources):
        return binary
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    if not env.get("HOME") and not env.get("GOCACHE"):
        env["GOCACHE"] = str(Path(tempfile.gettempdir()) / "containerz-go-cache")
    go = shutil.which("go") or "/usr/local/go/bin/go"
    subprocess.run([go, "build", "-o", str(binary.resolve()), "."], cwd=VOLPLUGIN_SOURCE, env=env, check=True)
    return binary

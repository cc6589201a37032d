"""Tarball preparation: both save formats become one loadable image with exactly the deployed tag."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from containerz import errors
from containerz.imagetar import prepare_for_load


def _write_tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))


def _effective_manifest(path: Path) -> list[dict[str, object]]:
    """What docker load sees: the last manifest.json in the archive wins."""
    with tarfile.open(path) as archive:
        last = [m for m in archive.getmembers() if m.name == "manifest.json"][-1]
        extracted = archive.extractfile(last)
        assert extracted is not None
        return json.load(extracted)  # type: ignore[no-any-return]


def _legacy(path: Path, repo_tags: list[str], images: int = 1) -> None:
    entry = {"Config": "abc.json", "RepoTags": repo_tags, "Layers": ["l1/layer.tar"]}
    _write_tar(path, {"abc.json": b"{}", "l1/layer.tar": b"", "manifest.json": json.dumps([entry] * images).encode()})


def test_legacy_tarball_is_pinned_to_the_deployed_tag(tmp_path: Path) -> None:
    tarball = tmp_path / "image.tar"
    _legacy(tarball, ["app:latest", "app:other"])
    prepare_for_load(tarball, "app:v2")
    manifest = _effective_manifest(tarball)
    assert manifest == [{"Config": "abc.json", "RepoTags": ["app:v2"], "Layers": ["l1/layer.tar"]}]


def test_gzipped_tarball_is_decompressed_first(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar"
    _legacy(plain, [])
    tarball = tmp_path / "image.tar"
    tarball.write_bytes(gzip.compress(plain.read_bytes()))
    prepare_for_load(tarball, "app:v1")
    assert _effective_manifest(tarball)[0]["RepoTags"] == ["app:v1"]


def test_oci_layout_gets_a_legacy_manifest(tmp_path: Path) -> None:
    config = b'{"architecture":"amd64","os":"linux"}'
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:c0"},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:l1"}],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:m1", "size": 1}
            ],
        }
    ).encode()
    tarball = tmp_path / "oci.tar"
    _write_tar(
        tarball,
        {
            "oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
            "index.json": index,
            "blobs/sha256/m1": manifest,
            "blobs/sha256/c0": config,
            "blobs/sha256/l1": b"",
        },
    )
    prepare_for_load(tarball, "app:oci")
    assert _effective_manifest(tarball) == [
        {"Config": "blobs/sha256/c0", "RepoTags": ["app:oci"], "Layers": ["blobs/sha256/l1"]}
    ]


@pytest.mark.parametrize(
    ("members", "fragment"),
    [
        ({"hello.txt": b"hi"}, "neither manifest.json"),
        ({"manifest.json": b"not json"}, "not valid JSON"),
        ({"manifest.json": b"{}"}, "not a list"),
        ({"index.json": b'{"manifests": []}'}, "0 linux/amd64 images"),
        (
            {"index.json": b'{"manifests": [{"mediaType": "x", "digest": "sha256:missing"}]}'},
            "missing",
        ),
    ],
)
def test_unusable_tarballs_are_refused(tmp_path: Path, members: dict[str, bytes], fragment: str) -> None:
    tarball = tmp_path / "bad.tar"
    _write_tar(tarball, members)
    with pytest.raises(errors.InvalidArgument, match=fragment):
        prepare_for_load(tarball, "app:x")


def test_several_images_in_one_tarball_are_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "two.tar"
    _legacy(tarball, ["a:1"], images=2)
    with pytest.raises(errors.InvalidArgument, match="holds 2 images"):
        prepare_for_load(tarball, "app:x")


def test_garbage_is_not_a_tar(tmp_path: Path) -> None:
    tarball = tmp_path / "garbage.tar"
    tarball.write_bytes(b"\x00\x01not a tar at all" * 100)
    with pytest.raises(errors.InvalidArgument):
        prepare_for_load(tarball, "app:x")

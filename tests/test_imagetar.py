"""The streaming tarball rewrite: both save formats become one loadable image with exactly the
deployed tag, whatever the chunking, and nothing loadable leaves before the upload is complete."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from containerz import errors
from containerz.imagetar import LoadableImageStream


def _write_tar(path: Path, members: dict[str, bytes], format: int = tarfile.PAX_FORMAT) -> None:
    with tarfile.open(path, "w", format=format) as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))


def _stream(upload: bytes, repo_tag: str, chunk_size: int = 4096) -> tuple[bytes, bytes]:
    """Feed ``upload`` in chunks; return (what went to the engine before finish, the whole result)."""
    stream = LoadableImageStream(repo_tag)
    before = b"".join(
        piece
        for start in range(0, len(upload), chunk_size)
        for piece in stream.feed(upload[start : start + chunk_size])
    )
    return before, before + b"".join(stream.finish())


def prepare_for_load(path: Path, repo_tag: str, chunk_size: int = 4096) -> None:
    """What the engine receives, written back over ``path`` so the tests can open it with tarfile."""
    path.write_bytes(_stream(path.read_bytes(), repo_tag, chunk_size)[1])


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _effective_manifest(path: Path) -> list[dict[str, object]]:
    with tarfile.open(path) as archive:
        names = [m.name for m in archive.getmembers()]
        assert names.count("manifest.json") == 1
        extracted = archive.extractfile("manifest.json")
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


@pytest.mark.parametrize("chunk_size", [1, 7, 512, 513, 4096, 1 << 20])
def test_members_pass_through_unchanged_whatever_the_chunking(tmp_path: Path, chunk_size: int) -> None:
    long_name = "d" * 120 + "/layer.tar"  # needs a pax header
    members = {"abc.json": b"{}", long_name: bytes(range(256)) * 5, "empty": b"", "odd": b"x" * 1001}
    entry = {"Config": "abc.json", "RepoTags": ["saved:1"], "Layers": [long_name]}
    tarball = tmp_path / "image.tar"
    _write_tar(tarball, {**members, "manifest.json": json.dumps([entry]).encode()})
    prepare_for_load(tarball, "app:v1", chunk_size)
    assert _members(tarball) == {**members, "manifest.json": json.dumps([{**entry, "RepoTags": ["app:v1"]}]).encode()}


def test_gnu_long_names_pass_through(tmp_path: Path) -> None:
    long_name = "g" * 150 + "/layer.tar"
    tarball = tmp_path / "image.tar"
    entry = {"Config": "c.json", "RepoTags": [], "Layers": [long_name]}
    _write_tar(
        tarball,
        {"c.json": b"{}", long_name: b"data", "manifest.json": json.dumps([entry]).encode()},
        tarfile.GNU_FORMAT,
    )
    prepare_for_load(tarball, "app:gnu", chunk_size=100)
    assert _members(tarball)[long_name] == b"data"


def test_nothing_loadable_reaches_the_engine_before_the_upload_is_complete(tmp_path: Path) -> None:
    """Without manifest.json the engine refuses the archive, so an upload cut short loads nothing."""
    tarball = tmp_path / "image.tar"
    _legacy(tarball, ["app:latest"])
    before, _ = _stream(tarball.read_bytes(), "app:v1")
    with tarfile.open(fileobj=io.BytesIO(before + bytes(1024))) as archive:
        names = archive.getnames()
    assert "abc.json" in names
    assert "manifest.json" not in names


def test_a_truncated_tarball_is_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "image.tar"
    _legacy(tarball, [])
    truncated = tarball.read_bytes()[:700]  # inside the first member's data
    stream = LoadableImageStream("app:x")
    stream.feed(truncated)
    with pytest.raises(errors.InvalidArgument, match="truncated"):
        stream.finish()


def test_a_huge_manifest_is_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "image.tar"
    _write_tar(tarball, {"manifest.json": b" " * (2 << 20)})
    with pytest.raises(errors.InvalidArgument, match="too large"):
        prepare_for_load(tarball, "app:x")

"""Deploy with ``remote_download``: pulls from a real registry, and downloads over HTTP and HTTPS.

The registry is Debian's docker-registry (scripts/registry.sh) on 127.0.0.1, which Docker
treats as insecure by default. The HTTP(S) servers run in this test process; the HTTPS one
presents a certificate from a throwaway CA that only a dedicated server instance trusts
(through REQUESTS_CA_BUNDLE in its environment).
"""

from __future__ import annotations

import base64
import functools
import re
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import grpc
import pytest

from protos.gnoi.common import common_pb2
from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from protos.gnoi.types import types_pb2
from tests.conftest import free_port
from tests.support.client import error_of
from tests.support.images import build_image_tar
from tests.support.server import ROOT, ServerProcess

pytestmark = pytest.mark.engine

Stub = containerz_pb2_grpc.ContainerzStub
Unique = Callable[[str], str]
Download = common_pb2.RemoteDownload

DEPLOY_TIMEOUT = 120.0
USERNAME = "operator"
PASSWORD = "s3cret-pw"
SLOW_BLOCK = 256 * 1024
SLOW_PAUSE_SECONDS = 0.05


def started_cmd(label: str) -> list[str]:
    return ["/bin/sh", "-c", f"echo started {label}; while true; do sleep 1; done"]


# ---------------------------------------------------------------------- helpers


@dataclass
class RemoteOutcome:
    progress: list[int]
    success: pb.ImageTransferSuccess


def remote_deploy(stub: Stub, name: str, tag: str, download: Download) -> RemoteOutcome:
    """One ImageTransfer with remote_download; the answer is Progress* then Success."""
    first = pb.DeployRequest(image_transfer=pb.ImageTransfer(name=name, tag=tag, remote_download=download))
    responses = list(stub.Deploy(iter([first]), timeout=DEPLOY_TIMEOUT))
    kinds = [r.WhichOneof("response") for r in responses]
    assert kinds and kinds[-1] == "image_transfer_success", kinds
    assert set(kinds[:-1]) <= {"image_transfer_progress"}, kinds
    progress = [r.image_transfer_progress.bytes_received for r in responses[:-1]]
    return RemoteOutcome(progress, responses[-1].image_transfer_success)


def remote_error(stub: Stub, name: str, tag: str, download: Download) -> grpc.RpcError:
    first = pb.DeployRequest(image_transfer=pb.ImageTransfer(name=name, tag=tag, remote_download=download))
    return error_of(lambda: stub.Deploy(iter([first]), timeout=DEPLOY_TIMEOUT))


def listed(stub: Stub, name: str) -> list[tuple[str, str]]:
    return [(i.image_name, i.tag) for i in stub.ListImage(pb.ListImageRequest()) if i.image_name == name]


def assert_runs(stub: Stub, docker_api: docker.APIClient, name: str, tag: str, unique: Unique) -> None:
    """A container started from name:tag through the server prints its first line."""
    instance = unique("run")
    started = stub.StartContainer(
        pb.StartContainerRequest(image_name=name, tag=tag, instance_name=instance), timeout=60
    )
    try:
        assert started.WhichOneof("response") == "start_ok", started
        deadline = time.monotonic() + 15
        while b"started" not in docker_api.logs(instance) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert b"started" in docker_api.logs(instance)
        assert docker_api.inspect_container(instance)["State"]["Running"]
    finally:
        stub.RemoveContainer(pb.RemoveContainerRequest(name=instance, force=True), timeout=60)


def assert_no_partial_files(server: ServerProcess, timeout: float = 5) -> None:
    uploads = server.data_dir / "uploads"
    deadline = time.monotonic() + timeout
    while list(uploads.glob("*.part*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(uploads.glob("*.part*")) == []


def load_into_engine(api: docker.APIClient, tarball: Path) -> None:
    with tarball.open("rb") as body:
        for message in api.load_image(body):
            assert "error" not in message, message


def push_to_registry(api: docker.APIClient, repository: str, tag: str) -> None:
    for message in api.push(repository, tag=tag, stream=True, decode=True):
        assert "error" not in message, message


# ---------------------------------------------------------------------- registry


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    api: docker.APIClient
    workdir: Path

    def publish(self, repo: str, tag: str = "v1") -> str:
        """Push a fresh image as HOST/repo:tag, keep no local copy, and return that reference."""
        tarball = self.workdir / f"{repo}.tar"
        build_image_tar(tarball, repo, "src", cmd=started_cmd(repo))
        load_into_engine(self.api, tarball)
        remote = f"{self.host}/{repo}"
        self.api.tag(f"{repo}:src", remote, tag)
        push_to_registry(self.api, remote, tag)
        self.api.remove_image(f"{remote}:{tag}")
        self.api.remove_image(f"{repo}:src")
        return f"{remote}:{tag}"

    def remove_pulled_images(self) -> None:
        for image in self.api.images():
            if any(t.startswith(f"{self.host}/") for t in image.get("RepoTags") or ()):
                self.api.remove_image(image["Id"], force=True)


def registry_script(*args: str) -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "registry.sh"), *args], check=True, stdout=subprocess.PIPE, text=True
    )
    return done.stdout


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, docker_api: docker.APIClient) -> Iterator[Registry]:
    directory = tmp_path_factory.mktemp("registry")
    port = free_port()
    announced = registry_script("start", "--dir", str(directory / "state"), "--port", str(port))
    host = announced.strip().splitlines()[-1].removeprefix("REGISTRY=")
    found = Registry(host, docker_api, directory)
    try:
        yield found
    finally:
        found.remove_pulled_images()
        registry_script("stop", "--dir", str(directory / "state"))


def registry_download(path: str) -> Download:
    return Download(protocol=Download.UNKNOWN, path=path)


def test_registry_pull_by_path_is_tagged_as_name_and_tag(
    stub: Stub, registry: Registry, unique: Unique, docker_api: docker.APIClient
) -> None:
    reference = registry.publish(unique("pushed"))
    name = unique("pulled")
    outcome = remote_deploy(stub, name, "v1", registry_download(reference))

    assert (outcome.success.name, outcome.success.tag) == (name, "v1")
    assert outcome.progress == sorted(outcome.progress)
    assert listed(stub, name) == [(name, "v1")]
    # Only the name the client asked for is kept, not the registry reference it came from.
    assert reference not in {t for i in docker_api.images() for t in i.get("RepoTags") or ()}
    assert_runs(stub, docker_api, name, "v1", unique)


def test_registry_pull_by_name_when_path_is_empty(
    stub: Stub, registry: Registry, unique: Unique, docker_api: docker.APIClient
) -> None:
    repo = unique("by-name")
    registry.publish(repo)
    name = f"{registry.host}/{repo}"
    outcome = remote_deploy(stub, name, "v1", registry_download(""))

    assert (outcome.success.name, outcome.success.tag) == (name, "v1")
    assert listed(stub, name) == [(name, "v1")]
    assert_runs(stub, docker_api, name, "v1", unique)


def test_registry_missing_repository_is_not_found(
    stub: Stub, registry: Registry, unique: Unique, server: ServerProcess
) -> None:
    reference = f"{registry.host}/{unique('never-pushed')}:v1"
    error = remote_error(stub, unique("absent"), "v1", registry_download(reference))

    assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
    assert reference in (error.details() or "")
    assert_no_partial_files(server)


# Server bug, reported with a proposed fix: the engine fails POST /images/create itself with
# HTTP 500 "connection refused", which the adapter maps to INTERNAL instead of the registry
# error mapping. Strict, so this fails as soon as the fix lands: then drop the mark.
def test_registry_with_nothing_listening_is_unavailable(stub: Stub, unique: Unique, server: ServerProcess) -> None:
    reference = f"127.0.0.1:{free_port()}/{unique('nobody-home')}:v1"
    error = remote_error(stub, unique("unreachable"), "v1", registry_download(reference))

    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
    assert reference in (error.details() or "")
    assert_no_partial_files(server)


# ---------------------------------------------------------------------- HTTP(S) file server


class TarballHandler(SimpleHTTPRequestHandler):
    """Files from a directory; ``/private/...`` needs basic auth, ``/slow/...`` trickles the body."""

    expected_authorization = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/private/"):
            if self.headers.get("Authorization") != self.expected_authorization:
                self._refuse()
                return
            self.path = self.path.removeprefix("/private")
        if self.path.startswith("/slow/"):
            self._trickle(Path(self.translate_path(self.path.removeprefix("/slow"))))
            return
        super().do_GET()

    def _refuse(self) -> None:
        self.send_response(HTTPStatus.UNAUTHORIZED)
        self.send_header("WWW-Authenticate", 'Basic realm="images"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _trickle(self, path: Path) -> None:
        if not path.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        data = path.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/x-tar")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        for offset in range(0, len(data), SLOW_BLOCK):
            self.wfile.write(data[offset : offset + SLOW_BLOCK])
            self.wfile.flush()
            time.sleep(SLOW_PAUSE_SECONDS)


@dataclass
class FileServer:
    base_url: str
    directory: Path

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"


@pytest.fixture(scope="module")
def tarballs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("served")
    build_image_tar(directory / "image.tar", "served-image", cmd=started_cmd("http"))
    build_image_tar(directory / "big.tar", "served-big", cmd=started_cmd("big"), filler_bytes=8 * 1024 * 1024)
    (directory / "not-a-tarball.tar").write_bytes(b"<html>this is not an image</html>\n" * 100)
    return directory


def serve_directory(directory: Path, tls: ssl.SSLContext | None) -> tuple[ThreadingHTTPServer, str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(TarballHandler, directory=str(directory)))
    httpd.daemon_threads = True
    scheme = "http"
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    threading.Thread(target=httpd.serve_forever, name=f"{scheme}-server", daemon=True).start()
    return httpd, f"{scheme}://127.0.0.1:{httpd.server_address[1]}"


@pytest.fixture(scope="module")
def http_files(tarballs: Path) -> Iterator[FileServer]:
    httpd, base_url = serve_directory(tarballs, tls=None)
    yield FileServer(base_url, tarballs)
    httpd.shutdown()
    httpd.server_close()


def http_download(url: str, credentials: types_pb2.Credentials | None = None) -> Download:
    protocol = Download.HTTPS if url.startswith("https://") else Download.HTTP
    download = Download(protocol=protocol, path=url)
    if credentials is not None:
        download.credentials.CopyFrom(credentials)
    return download


def test_http_download_is_loaded_as_name_and_tag(
    stub: Stub, http_files: FileServer, unique: Unique, docker_api: docker.APIClient
) -> None:
    name = unique("http")
    outcome = remote_deploy(stub, name, "v1", http_download(http_files.url("image.tar")))

    assert (outcome.success.name, outcome.success.tag) == (name, "v1")
    assert listed(stub, name) == [(name, "v1")]
    assert_runs(stub, docker_api, name, "v1", unique)


def test_http_progress_never_goes_backwards(stub: Stub, http_files: FileServer, unique: Unique) -> None:
    name = unique("http-slow")
    size = (http_files.directory / "big.tar").stat().st_size
    outcome = remote_deploy(stub, name, "v1", http_download(http_files.url("slow/big.tar")))

    assert len(outcome.progress) >= 2, outcome.progress  # about two seconds of trickling
    assert outcome.progress == sorted(outcome.progress)
    assert 0 < outcome.progress[-1] <= size
    assert listed(stub, name) == [(name, "v1")]


def test_http_404_is_not_found(stub: Stub, http_files: FileServer, unique: Unique, server: ServerProcess) -> None:
    url = http_files.url("no-such-image.tar")
    error = remote_error(stub, unique("http-404"), "v1", http_download(url))

    assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
    assert url in (error.details() or "")
    assert_no_partial_files(server)


def test_http_basic_auth_with_the_right_credentials(
    stub: Stub, http_files: FileServer, unique: Unique, docker_api: docker.APIClient
) -> None:
    name = unique("http-auth")
    credentials = types_pb2.Credentials(username=USERNAME, cleartext=PASSWORD)
    remote_deploy(stub, name, "v1", http_download(http_files.url("private/image.tar"), credentials))

    assert listed(stub, name) == [(name, "v1")]
    assert_runs(stub, docker_api, name, "v1", unique)


@pytest.mark.parametrize(
    "credentials",
    [None, types_pb2.Credentials(username=USERNAME, cleartext="wrong"), types_pb2.Credentials(username="x")],
    ids=["none", "wrong-password", "no-password"],
)
def test_http_basic_auth_refused_is_permission_denied(
    stub: Stub, http_files: FileServer, unique: Unique, server: ServerProcess, credentials: types_pb2.Credentials | None
) -> None:
    name = unique("http-denied")
    error = remote_error(stub, name, "v1", http_download(http_files.url("private/image.tar"), credentials))

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
    assert listed(stub, name) == []
    assert_no_partial_files(server)


def test_http_body_that_is_not_a_tarball_is_invalid_argument(
    stub: Stub, http_files: FileServer, unique: Unique, server: ServerProcess
) -> None:
    name = unique("http-garbage")
    error = remote_error(stub, name, "v1", http_download(http_files.url("not-a-tarball.tar")))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert listed(stub, name) == []
    assert_no_partial_files(server)


def test_hashed_credentials_are_invalid_argument(
    stub: Stub, http_files: FileServer, unique: Unique, server: ServerProcess
) -> None:
    hashed = types_pb2.Credentials(
        username=USERNAME, hashed=types_pb2.HashType(method=types_pb2.HashType.SHA256, hash=b"\x01" * 32)
    )
    name = unique("http-hashed")
    error = remote_error(stub, name, "v1", http_download(http_files.url("private/image.tar"), hashed))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "hashed" in (error.details() or "")
    assert listed(stub, name) == []
    assert_no_partial_files(server)


# ---------------------------------------------------------------------- HTTPS


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def openssl(directory: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A throwaway CA, and a certificate it signed for IP 127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (Debian package openssl)")
    directory = tmp_path_factory.mktemp("tls")
    openssl(
        directory, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=containerz test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl(
        directory, "req", "-newkey", "rsa:2048", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
    )  # fmt: skip
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    openssl(
        directory, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
    )  # fmt: skip
    return Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")


@pytest.fixture(scope="module")
def https_files(tarballs: Path, certificates: Certificates) -> Iterator[FileServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.cert, certificates.key)
    httpd, base_url = serve_directory(tarballs, tls=context)
    yield FileServer(base_url, tarballs)
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def trusting_server(
    docker_host: str, tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[ServerProcess]:
    """A server of its own whose environment trusts the test CA."""
    data_dir = tmp_path_factory.mktemp("trusting-server") / "data"
    process = ServerProcess(docker_host, data_dir, env={"REQUESTS_CA_BUNDLE": str(certificates.ca)}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def trusting_stub(trusting_server: ServerProcess) -> Iterator[Stub]:
    with grpc.insecure_channel(trusting_server.address) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        yield containerz_pb2_grpc.ContainerzStub(channel)


def test_https_download_trusted_through_requests_ca_bundle(
    trusting_stub: Stub, https_files: FileServer, unique: Unique, docker_api: docker.APIClient
) -> None:
    name = unique("https")
    outcome = remote_deploy(trusting_stub, name, "v1", http_download(https_files.url("image.tar")))

    assert (outcome.success.name, outcome.success.tag) == (name, "v1")
    assert listed(trusting_stub, name) == [(name, "v1")]
    assert_runs(trusting_stub, docker_api, name, "v1", unique)


def test_https_with_an_untrusted_certificate_is_unavailable(
    stub: Stub, https_files: FileServer, unique: Unique, server: ServerProcess
) -> None:
    name = unique("https-untrusted")
    url = https_files.url("image.tar")
    error = remote_error(stub, name, "v1", http_download(url))

    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
    assert re.search(r"TLS|certificate", error.details() or "", re.IGNORECASE), error.details()
    assert url in (error.details() or "")
    assert listed(stub, name) == []
    assert_no_partial_files(server)

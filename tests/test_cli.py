"""The command line and what an operator sees: flags, environment, logs, health, reflection."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from containerz.cli import parse_settings
from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import BusyboxImages
from tests.support.server import ROOT, ServerProcess

FLAGS = ("--listen", "--docker-host", "--data-dir", "--chunk-size", "--stop-grace", "--log-format", "--log-level")


def test_help_documents_every_flag_and_its_environment_variable() -> None:
    shown = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in FLAGS:
        assert flag in shown
    for variable in ("CONTAINERZ_LISTEN", "CONTAINERZ_DOCKER_HOST", "DOCKER_HOST", "CONTAINERZ_DATA_DIR"):
        assert variable in shown


def test_environment_sets_defaults_and_flags_win() -> None:
    environ = {
        "CONTAINERZ_LISTEN": "127.0.0.1:1234",
        "DOCKER_HOST": "unix:///from/docker_host.sock",
        "CONTAINERZ_DATA_DIR": "/srv/cz",
        "CONTAINERZ_CHUNK_SIZE": "1024",
    }
    settings, _ = parse_settings([], environ)
    assert (settings.listen, settings.docker_host, settings.data_dir, settings.chunk_size) == (
        "127.0.0.1:1234",
        "unix:///from/docker_host.sock",
        Path("/srv/cz"),
        1024,
    )
    preferred, _ = parse_settings([], {**environ, "CONTAINERZ_DOCKER_HOST": "unix:///preferred.sock"})
    assert preferred.docker_host == "unix:///preferred.sock"
    flagged, _ = parse_settings(["--listen", "[::]:9339", "--docker-host", "tcp://10.0.0.1:2375"], environ)
    assert (flagged.listen, flagged.docker_host) == ("[::]:9339", "tcp://10.0.0.1:2375")


@pytest.mark.parametrize(
    "argv", [["--chunk-size", "0"], ["--chunk-size", str(5 * 1024 * 1024)], ["--stop-grace", "-1"]]
)
def test_out_of_range_flags_are_refused(argv: list[str]) -> None:
    failed = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *argv], capture_output=True, text=True, check=False
    )
    assert failed.returncode == 2
    assert argv[0] in failed.stderr


def test_a_taken_port_is_a_clear_startup_error(tmp_path: Path) -> None:
    with socket_on_free_port() as port:
        failed = subprocess.run(
            [sys.executable, str(ROOT / "server.py"), "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert failed.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in failed.stderr


@contextlib.contextmanager
def socket_on_free_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


@pytest.mark.engine
def test_every_mutating_rpc_is_logged_as_one_json_line(
    stub: containerz_pb2_grpc.ContainerzStub,
    server: ServerProcess,
    test_images: BusyboxImages,
    unique: Callable[[str], str],
) -> None:
    name = unique("logged")
    stub.StartContainer(pb.StartContainerRequest(image_name=test_images.repo, instance_name=name))
    with pytest.raises(grpc.RpcError):
        stub.StartContainer(pb.StartContainerRequest(image_name=test_images.repo, instance_name=name))
    records = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    starts = [r for r in records if r.get("rpc") == "StartContainer" and name in r.get("request", "")]
    assert [r["code"] for r in starts] == ["OK", "ALREADY_EXISTS"]
    for record in starts:
        assert record["event"] == "rpc" and record["level"] == "info"
        assert record["peer"].startswith("ipv4:127.0.0.1:") or record["peer"].startswith("ipv6:")
        assert isinstance(record["duration_ms"], float)
        assert "timestamp" in record
    assert "already running" in starts[1]["error"]


@pytest.mark.engine
def test_health_and_reflection_are_served(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)  # type: ignore[no-untyped-call]
    for service in ("", "gnoi.containerz.Containerz"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(channel)  # type: ignore[no-untyped-call]
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    listed = next(iter(reflect.ServerReflectionInfo(iter([request]), timeout=10)))
    names = {s.name for s in listed.list_services_response.service}
    assert {"gnoi.containerz.Containerz", "grpc.health.v1.Health"} <= names

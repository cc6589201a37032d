"""Deploy of a 256 MiB image of incompressible layers through gRPC, against `docker load` of the
same tarball into the same engine, medians of several runs in one process run; and the server's
peak RSS while doing it.

    python bench/deploy.py [--size-mib 256] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import docker
import grpc

from common import ServerProcess, engine, median, peak_rss_mb, result
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.support.client import deploy_file
from tests.support.images import build_image_tar

REPO = "bench-deploy"


def docker_cli() -> str:
    for candidate in ("/usr/bin/docker", "/usr/local/bin/docker"):
        if Path(candidate).exists():
            return candidate
    raise SystemExit("no docker CLI found for the baseline (apt-get install docker.io)")


def remove_image(api: docker.APIClient, reference: str) -> None:
    """Remove the image and its layers, so every run loads all layers again."""
    with contextlib.suppress(docker.errors.NotFound):
        api.remove_image(reference, force=True)


def time_docker_load(docker_host: str, tarball: Path) -> float:
    os.sync()  # start each timed run without the previous run's writeback in flight
    started = time.perf_counter()
    subprocess.run([docker_cli(), "-H", docker_host, "load", "-q", "-i", str(tarball)], check=True, capture_output=True)
    return time.perf_counter() - started


def time_deploy(stub: containerz_pb2_grpc.ContainerzStub, tarball: Path) -> float:
    os.sync()
    started = time.perf_counter()
    deploy_file(stub, tarball, REPO, "bench")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    docker_host = engine()
    api = docker.APIClient(base_url=docker_host, version="auto", timeout=600)
    with tempfile.TemporaryDirectory(dir="/var/tmp") as scratch:
        tarball = Path(scratch) / "bench.tar"
        build_image_tar(tarball, "bench-saved", "v1", cmd=["/bin/true"], filler_bytes=args.size_mib * 1024 * 1024)
        size_mib = tarball.stat().st_size / 2**20
        server = ServerProcess(docker_host, Path(scratch) / "data").start()
        try:
            channel = grpc.insecure_channel(server.address)
            stub = containerz_pb2_grpc.ContainerzStub(channel)
            load_times, deploy_times = [], []
            for _ in range(args.runs):  # interleaved, so both see the same machine state
                remove_image(api, "bench-saved:v1")
                load_times.append(time_docker_load(docker_host, tarball))
                remove_image(api, "bench-saved:v1")
                remove_image(api, f"{REPO}:bench")
                deploy_times.append(time_deploy(stub, tarball))
                remove_image(api, f"{REPO}:bench")
            rss = peak_rss_mb(server.pid)
            channel.close()
        finally:
            server.stop()

    load, deploy = median(load_times), median(deploy_times)
    print(f"tarball: {size_mib:.1f} MiB, {args.runs} runs, engine {docker_host}")
    print(f"docker load: median {load:.2f} s  runs {[round(t, 2) for t in load_times]}")
    print(f"Deploy:      median {deploy:.2f} s  runs {[round(t, 2) for t in deploy_times]}")
    print(f"Deploy throughput: {size_mib / deploy:.0f} MiB/s; server peak RSS {rss:.0f} MB")
    print(result("deploy_vs_docker_load_ratio", deploy / load, "<=", 1.10))
    print(result("deploy_server_peak_rss_mb", rss, "<=", 150))


if __name__ == "__main__":
    main()

"""ListContainer latency with 100 containers: p50/p99 through gRPC, against the same listing made
directly on the engine with docker-py in the same run.

    python bench/list.py [--containers 100] [--calls 200]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

import docker
import grpc

from common import ServerProcess, engine, percentile, result
from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.support.client import deploy_file
from tests.support.images import build_image_tar

PREFIX = "bench-list"


def timed(call: object, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    docker_host = engine()
    api = docker.APIClient(base_url=docker_host, version="auto", timeout=120)
    with tempfile.TemporaryDirectory(dir="/var/tmp") as scratch:
        tarball = Path(scratch) / "sleeper.tar"
        build_image_tar(tarball, "sleeper", cmd=["/bin/sh", "-c", "while true; do sleep 60; done"])
        server = ServerProcess(docker_host, Path(scratch) / "data").start()
        channel = grpc.insecure_channel(server.address)
        stub = containerz_pb2_grpc.ContainerzStub(channel)
        names = [f"{PREFIX}-{i}" for i in range(args.containers)]
        try:
            deploy_file(stub, tarball, PREFIX)
            for name in names:
                stub.StartContainer(pb.StartContainerRequest(image_name=PREFIX, instance_name=name))
            listed = list(stub.ListContainer(pb.ListContainerRequest(all=True)))
            assert sum(c.name.startswith(PREFIX) for c in listed) == args.containers

            def via_grpc() -> None:
                list(stub.ListContainer(pb.ListContainerRequest(all=True)))

            def via_engine() -> None:
                api.containers(all=True)

            timed(via_grpc, 5)  # warm both paths up
            timed(via_engine, 5)
            grpc_ms, engine_ms = timed(via_grpc, args.calls), timed(via_engine, args.calls)
        finally:
            for name in names:
                with contextlib.suppress(docker.errors.NotFound):
                    api.remove_container(name, force=True)
            channel.close()
            server.stop()
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_image(f"{PREFIX}:latest", force=True)

    p50, p99 = percentile(grpc_ms, 0.50), percentile(grpc_ms, 0.99)
    e50, e99 = percentile(engine_ms, 0.50), percentile(engine_ms, 0.99)
    print(f"{args.containers} containers, {args.calls} calls each, engine {docker_host}")
    print(f"ListContainer via gRPC: p50 {p50:.1f} ms  p99 {p99:.1f} ms")
    print(f"engine list (docker-py): p50 {e50:.1f} ms  p99 {e99:.1f} ms")
    print(result("list_100_p50_ms", p50, "<=", 50))
    print(result("list_100_p99_ms", p99, "<=", 100))
    print(result("list_vs_engine_p50_ratio", p50 / e50, "<=", 1.5))


if __name__ == "__main__":
    main()

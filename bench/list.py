"""ListContainer latency with 100 containers: p50/p99 through gRPC, against a floor measured in
the same run: the engine's own listing (docker-py) plus a bare grpc.aio server streaming the very
same 100 responses from memory. The ratio to that floor is what this server's translation costs;
the floor itself is the protocol's (one message per container) and Python gRPC's.

    python bench/list.py [--containers 100] [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
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


class Replay(containerz_pb2_grpc.ContainerzServicer):
    def __init__(self, responses: list[bytes]) -> None:
        self._responses = [pb.ListContainerResponse.FromString(r) for r in responses]

    async def ListContainer(
        self, request: pb.ListContainerRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ListContainerResponse]:
        for response in self._responses:
            yield response


def serve_replay(responses: list[bytes], port: int) -> None:
    async def serve() -> None:
        server = grpc.aio.server()
        containerz_pb2_grpc.add_ContainerzServicer_to_server(Replay(responses), server)  # type: ignore[no-untyped-call]
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        await server.wait_for_termination()

    asyncio.run(serve())


@contextlib.contextmanager
def replay_server(responses: list[pb.ListContainerResponse]) -> Iterator[str]:
    """A bare gRPC server, in its own process, that streams ``responses`` for every ListContainer."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = multiprocessing.get_context("fork").Process(
        target=serve_replay, args=([r.SerializeToString() for r in responses], port), daemon=True
    )
    process.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.join()


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

            with replay_server(listed) as replay_address, grpc.insecure_channel(replay_address) as replay_channel:
                replay_stub = containerz_pb2_grpc.ContainerzStub(replay_channel)

                def via_replay() -> None:
                    list(replay_stub.ListContainer(pb.ListContainerRequest(all=True)))

                for warm_up in (via_grpc, via_engine, via_replay):
                    timed(warm_up, 5)
                grpc_ms, engine_ms = timed(via_grpc, args.calls), timed(via_engine, args.calls)
                replay_ms = timed(via_replay, args.calls)
        finally:
            # The server first: it recreates recorded containers removed behind its back.
            channel.close()
            server.stop()
            for name in names:
                with contextlib.suppress(docker.errors.NotFound):
                    api.remove_container(name, force=True)
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_image(f"{PREFIX}:latest", force=True)

    p50, p99 = percentile(grpc_ms, 0.50), percentile(grpc_ms, 0.99)
    e50, e99 = percentile(engine_ms, 0.50), percentile(engine_ms, 0.99)
    r50 = percentile(replay_ms, 0.50)
    print(f"{args.containers} containers, {args.calls} calls each, engine {docker_host}")
    print(f"ListContainer via gRPC: p50 {p50:.1f} ms  p99 {p99:.1f} ms")
    print(f"engine list (docker-py): p50 {e50:.1f} ms  p99 {e99:.1f} ms")
    print(f"bare gRPC stream of the same {len(listed)} responses: p50 {r50:.1f} ms")
    print(result("list_100_p50_ms", p50, "<=", 50))
    print(result("list_100_p99_ms", p99, "<=", 100))
    print(result("list_vs_floor_p50_ratio", p50 / (e50 + r50), "<=", 1.3))


if __name__ == "__main__":
    main()

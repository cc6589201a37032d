"""A small lock-step gNOI Containerz client for tests, written from the proto and the
reference client's documented behaviour (one Progress per content message)."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc


@dataclass
class DeployOutcome:
    chunk_size: int = 0
    progress: list[int] = field(default_factory=list)
    success: pb.ImageTransferSuccess | None = None


class LockStepDeploy:
    """Drive one Deploy stream message by message, so tests can misbehave on purpose."""

    def __init__(self, stub: containerz_pb2_grpc.ContainerzStub, timeout: float = 120) -> None:
        self._outbox: queue.Queue[pb.DeployRequest | None] = queue.Queue()
        self._responses = stub.Deploy(self._requests(), timeout=timeout)
        self._closed = threading.Event()

    def _requests(self) -> Iterator[pb.DeployRequest]:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            yield item

    def send(self, request: pb.DeployRequest) -> None:
        self._outbox.put(request)

    def close_send(self) -> None:
        self._outbox.put(None)

    def receive(self) -> pb.DeployResponse:
        return next(self._responses)

    def cancel(self) -> None:
        self._responses.cancel()
        self.close_send()


def deploy_file(
    stub: containerz_pb2_grpc.ContainerzStub,
    path: Path,
    name: str,
    tag: str = "latest",
    *,
    is_plugin: bool = False,
    image_size: int | None = None,
) -> DeployOutcome:
    """Push ``path`` exactly as the reference client does; raise grpc.RpcError on failure."""
    outcome = DeployOutcome()
    size = path.stat().st_size if image_size is None else image_size
    stream = LockStepDeploy(stub)
    try:
        stream.send(
            pb.DeployRequest(image_transfer=pb.ImageTransfer(name=name, tag=tag, image_size=size, is_plugin=is_plugin))
        )
        ready = stream.receive()
        assert ready.WhichOneof("response") == "image_transfer_ready", ready
        outcome.chunk_size = ready.image_transfer_ready.chunk_size
        with path.open("rb") as source:
            while True:
                chunk = source.read(outcome.chunk_size)
                stream.send(pb.DeployRequest(content=chunk))
                reply = stream.receive()
                assert reply.WhichOneof("response") == "image_transfer_progress", reply
                outcome.progress.append(reply.image_transfer_progress.bytes_received)
                if len(chunk) < outcome.chunk_size:
                    break
        stream.send(pb.DeployRequest(image_transfer_end=pb.ImageTransferEnd()))
        final = stream.receive()
        assert final.WhichOneof("response") == "image_transfer_success", final
        outcome.success = final.image_transfer_success
    finally:
        stream.close_send()
    return outcome


def error_of(call: object) -> grpc.RpcError:
    """Run a zero-argument callable (draining a stream) that should fail; return its error."""
    try:
        result = call()  # type: ignore[operator]
        if hasattr(result, "__iter__") and not isinstance(result, bytes):
            list(result)
    except grpc.RpcError as exc:
        return exc
    raise AssertionError("the call succeeded but an error was expected")


def code_of(call: object) -> grpc.StatusCode:
    return error_of(call).code()


def eventually(check: Callable[[], bool], timeout: float = 15) -> bool:
    """Poll ``check`` every 0.2 s until it holds or ``timeout`` seconds pass; return its last verdict."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def pygnmi(address: str, mode: str, *paths: str, encoding: str = "json_ietf", timeout: float = 15) -> Any:
    """Ask the server through pygnmi (in its own process); return its parsed answer.
    Raises subprocess.CalledProcessError when pygnmi fails (e.g. the server is down)."""
    script = Path(__file__).with_name("pygnmi_client.py")
    done = subprocess.run(
        [sys.executable, str(script), address, mode, *paths, "--encoding", encoding],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return json.loads(done.stdout)

"""``server.py device``: a whole simulated device on this machine — the chassis around two
control processors.

It starts a private Docker engine per control processor (``scripts/engine.sh``), then one
server process per control processor, each with its own address, its replication address and
its data directory, contending for one arbiter lock file; whichever is active serves the
device's address. Like a chassis it restarts a control processor that dies, and performs a
cold reboot when the active one asks for it: every container on both engines is killed and
both control processors start again, their journals bringing back what ran.

Addresses: the device's is ``--listen``; control processor N (1 or 2) has its own gNOI/gNMI
address on port ``BASE + 2(N-1)`` and its replication address on ``BASE + 2(N-1) + 1``, where
BASE is ``--cp-base-port`` (default: the device's port + 10), all on the device's host.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
import structlog

from containerz.logs import configure_logging

log = structlog.get_logger(__name__)

NAMES = ("Supervisor1", "Supervisor2")
# A control processor exits with this code to ask the chassis for a cold reboot of the device.
REBOOT_EXIT_CODE = 75
_RESTART_DELAY_SECONDS = 1.0
_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ControlProcessorPlan:
    name: str
    own: str
    peer_listen: str
    peer_address: str
    directory: Path


def plan(listen: str, data_dir: Path, base_port: int | None) -> list[ControlProcessorPlan]:
    host, _, port = listen.rpartition(":")
    base = base_port if base_port is not None else int(port) + 10
    peers = [f"{host}:{base + 1}", f"{host}:{base + 3}"]
    return [
        ControlProcessorPlan(
            name=name,
            own=f"{host}:{base + 2 * index}",
            peer_listen=peers[index],
            peer_address=peers[1 - index],
            directory=data_dir / name,
        )
        for index, name in enumerate(NAMES)
    ]


def start_engine(directory: Path) -> str:
    done = subprocess.run(
        ["bash", str(_ROOT / "scripts" / "engine.sh"), "start", "--dir", str(directory)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1].split("=", 1)[1]


class Chassis:
    def __init__(self, listen: str, data_dir: Path, base_port: int | None, extra: Sequence[str]) -> None:
        self._listen = listen
        self._data_dir = data_dir
        self._plans = plan(listen, data_dir, base_port)
        self._extra = list(extra)
        self._engines: dict[str, str] = {}
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._stopping = False

    def argv(self, cp: ControlProcessorPlan) -> list[str]:
        other = next(p for p in self._plans if p is not cp)
        return [
            sys.executable, str(_ROOT / "server.py"),
            "--name", cp.name,
            "--listen", cp.own,
            "--docker-host", self._engines[cp.name],
            "--data-dir", str(cp.directory / "data"),
            "--arbiter", str(self._data_dir / "arbiter.lock"),
            "--peer-name", other.name,
            "--peer-address", cp.peer_address,
            "--peer-listen", cp.peer_listen,
            "--service-listen", self._listen,
            "--reboot-exit-code", str(REBOOT_EXIT_CODE),
            *self._extra,
        ]  # fmt: skip

    async def run(self) -> None:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        for cp in self._plans:
            self._engines[cp.name] = await asyncio.to_thread(start_engine, cp.directory / "engine")
            log.info("device.engine", cp=cp.name, docker_host=self._engines[cp.name])
        for cp in self._plans:
            log.info("device.control_processor", cp=cp.name, own=cp.own, peer=cp.peer_listen)
        log.info("device.address", listen=self._listen)
        await asyncio.gather(*(self._keep_running(cp) for cp in self._plans))

    async def _keep_running(self, cp: ControlProcessorPlan) -> None:
        while not self._stopping:
            process = await asyncio.create_subprocess_exec(*self.argv(cp))
            self._processes[cp.name] = process
            (cp.directory / "pid").write_text(f"{process.pid}\n")
            code = await process.wait()
            if self._stopping:
                return
            if code == REBOOT_EXIT_CODE:
                await self._cold_reboot(cp.name)
                continue
            log.warning("device.control_processor_died", cp=cp.name, exit_code=code)
            await asyncio.sleep(_RESTART_DELAY_SECONDS)

    async def _cold_reboot(self, asked_by: str) -> None:
        """Power-cycle: the other control processor and every container die; both start again."""
        log.info("device.cold_reboot", asked_by=asked_by)
        for name, process in self._processes.items():
            if name != asked_by and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        for docker_host in self._engines.values():
            await asyncio.to_thread(_kill_all_containers, docker_host)

    def stop(self) -> None:
        self._stopping = True
        for process in self._processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()


def _kill_all_containers(docker_host: str) -> None:
    api = docker.APIClient(base_url=docker_host, version="auto", timeout=30)
    try:
        for container in api.containers():
            with contextlib.suppress(docker.errors.APIError):
                api.kill(container["Id"])
    finally:
        api.close()


def main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    parser = argparse.ArgumentParser(
        prog="server.py device", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=environ.get("CONTAINERZ_LISTEN", "127.0.0.1:9339"),
        help="the device's address (default: %(default)s)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(environ.get("CONTAINERZ_DATA_DIR", "/var/lib/containerz-device")),
        help="everything the device keeps: engines, journals, the arbiter (default: %(default)s)",
    )
    parser.add_argument(
        "--cp-base-port",
        type=int,
        default=None,
        help="first of the four control-processor ports (default: the device's port + 10)",
    )
    parser.add_argument("--log-format", choices=("auto", "json", "console"), default="auto")
    args, extra = parser.parse_known_args(argv)
    configure_logging("info", args.log_format)
    chassis = Chassis(args.listen, args.data_dir, args.cp_base_port, ["--log-format", args.log_format, *extra])

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, chassis.stop)
        await chassis.run()

    started = time.monotonic()
    asyncio.run(run())
    log.info("device.stopped", seconds=round(time.monotonic() - started, 1), pid=os.getpid())
    return 0

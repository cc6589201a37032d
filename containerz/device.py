"""``server.py device``: a whole simulated device on this machine — the chassis around two
control processors.

It starts a private Docker engine per control processor (``scripts/engine.sh``), then one
server process per control processor, each with its own address, its replication address and
its data directory, contending for one arbiter lock file; whichever is active serves the
device's address. Like a chassis it restarts a control processor that dies, and performs a
cold reboot when the active one asks for it: every container on both engines is killed and
both control processors start again, their journals bringing back what ran.

Run as root (with iproute2), each control processor gets a network namespace of its own
(:mod:`containerz.netns`): its own address ``10.B.N.2:9339``, a replication link ``10.B.0.N:9340``
that can really be cut, and host-network containers that do not collide with the other's. The
chassis then relays the device's address (``--listen``) to whichever control processor holds
mastership. Otherwise (``--no-netns``, or not root) everything is on the device's host:
control processor N has its own address on port ``BASE + 2(N-1)`` and its replication address
on the next port (BASE is ``--cp-base-port``, default the device's port + 10), and the active
one binds the device's address itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
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
from containerz.netns import Topology, nsenter
from state import FileArbiter

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
    namespace: str | None = None


CP_PORT = 9339
PEER_PORT = 9340


def plan_in_namespaces(data_dir: Path, topology: Topology) -> list[ControlProcessorPlan]:
    first, second = topology.namespaces
    return [
        ControlProcessorPlan(
            name=name,
            own=f"{ns.own_address}:{CP_PORT}",
            peer_listen=f"{ns.link_address}:{PEER_PORT}",
            peer_address=f"{other.link_address}:{PEER_PORT}",
            directory=data_dir / name,
            namespace=ns.name,
        )
        for name, ns, other in ((NAMES[0], first, second), (NAMES[1], second, first))
    ]


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


def engine_command(action: str, directory: Path, namespace: str | None) -> list[str]:
    netns = ["--netns", namespace] if namespace else []
    return ["bash", str(_ROOT / "scripts" / "engine.sh"), action, "--dir", str(directory), *netns]


def start_engine(directory: Path, namespace: str | None = None) -> str:
    done = subprocess.run(
        engine_command("start", directory, namespace),
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1].split("=", 1)[1]


class Chassis:
    def __init__(
        self, listen: str, data_dir: Path, base_port: int | None, extra: Sequence[str], use_netns: bool
    ) -> None:
        self._listen = listen
        self._data_dir = data_dir
        self._topology = Topology.for_device(data_dir) if use_netns else None
        self._plans = (
            plan_in_namespaces(data_dir, self._topology) if self._topology else plan(listen, data_dir, base_port)
        )
        self._extra = list(extra)
        self._engines: dict[str, str] = {}
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._stopping = asyncio.Event()
        self._cutter: asyncio.Task[None] | None = None

    def argv(self, cp: ControlProcessorPlan) -> list[str]:
        other = next(p for p in self._plans if p is not cp)
        inside = nsenter(cp.namespace) if cp.namespace else []
        # Without namespaces the active control processor binds the device's address itself.
        service = [] if cp.namespace else ["--service-listen", self._listen]
        return [
            *inside, sys.executable, str(_ROOT / "server.py"),
            "--name", cp.name,
            "--listen", cp.own,
            "--docker-host", self._engines[cp.name],
            "--data-dir", str(cp.directory / "data"),
            "--arbiter", str(self._data_dir / "arbiter.lock"),
            "--peer-name", other.name,
            "--peer-address", cp.peer_address,
            "--peer-listen", cp.peer_listen,
            *service,
            "--reboot-exit-code", str(REBOOT_EXIT_CODE),
            *self._extra,
        ]  # fmt: skip

    async def run(self) -> None:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        if self._topology is not None:
            await asyncio.to_thread(self._topology.up)
        try:
            for cp in self._plans:
                engine = await asyncio.to_thread(start_engine, cp.directory / "engine", cp.namespace)
                self._engines[cp.name] = engine
                log.info("device.engine", cp=cp.name, docker_host=engine, netns=cp.namespace)
            for cp in self._plans:
                log.info("device.control_processor", cp=cp.name, own=cp.own, peer=cp.peer_listen, netns=cp.namespace)
            relay = await self._relay() if self._topology is not None else None
            log.info("device.address", listen=self._listen, relayed=relay is not None)
            await asyncio.gather(*(self._keep_running(cp) for cp in self._plans))
            if relay is not None:
                relay.close()
        finally:
            await asyncio.to_thread(self._power_off)

    def _power_off(self) -> None:
        """Engines stop with the device; namespaces go with them."""
        if self._topology is None:
            return
        for cp in self._plans:
            subprocess.run(
                engine_command("stop", cp.directory / "engine", cp.namespace), capture_output=True, check=False
            )
        self._topology.down()

    async def _relay(self) -> asyncio.Server:
        """The device's address, relayed to whichever control processor holds mastership.
        Connections are cut when mastership moves, as a switchover drops them on a real device."""
        arbiter = FileArbiter(self._data_dir / "arbiter.lock")
        addresses = {cp.name: cp.own for cp in self._plans}
        connections: dict[str, set[asyncio.StreamWriter]] = {name: set() for name in addresses}

        async def active() -> str | None:
            for _ in range(100):  # a handover leaves no holder for a moment
                holder = await asyncio.to_thread(arbiter.holder)
                if holder is not None and holder[0] in addresses and not arbiter_released(self._data_dir):
                    return holder[0]
                await asyncio.sleep(0.05)
            return None

        async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(1 << 16):
                    target.write(data)
                    await target.drain()
            target.close()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            name = await active()
            if name is None:
                writer.close()
                return
            host, _, port = addresses[name].rpartition(":")
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
            except OSError:
                writer.close()
                return
            connections[name].update((writer, upstream_writer))
            try:
                await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
            finally:
                connections[name].difference_update((writer, upstream_writer))

        async def cut_on_switchover() -> None:
            current = await active()
            while not self._stopping.is_set():
                await asyncio.sleep(0.05)
                holder = await asyncio.to_thread(arbiter.holder)
                now = holder[0] if holder else None
                if now != current and current is not None:
                    for connection in list(connections[current]):
                        connection.close()
                current = now

        host, _, port = self._listen.rpartition(":")
        server = await asyncio.start_server(serve, host.strip("[]"), int(port))
        self._cutter = asyncio.create_task(cut_on_switchover())
        return server

    async def _keep_running(self, cp: ControlProcessorPlan) -> None:
        while not self._stopping.is_set():
            process = await asyncio.create_subprocess_exec(*self.argv(cp))
            self._processes[cp.name] = process
            (cp.directory / "pid").write_text(f"{process.pid}\n")
            code = await process.wait()
            if self._stopping.is_set():
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
        self._stopping.set()
        for process in self._processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()


def arbiter_released(data_dir: Path) -> bool:
    with contextlib.suppress(OSError):
        return (data_dir / "arbiter.lock").read_text().strip().endswith("released")
    return False


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
    parser.add_argument(
        "--no-netns",
        action="store_true",
        help="keep both control processors in this network namespace (the default when not root)",
    )
    args, extra = parser.parse_known_args(argv)
    configure_logging("info", args.log_format)
    use_netns = not args.no_netns and os.geteuid() == 0 and shutil.which("ip") is not None
    chassis = Chassis(
        args.listen, args.data_dir, args.cp_base_port, ["--log-format", args.log_format, *extra], use_netns
    )

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, chassis.stop)
        await chassis.run()

    started = time.monotonic()
    asyncio.run(run())
    log.info("device.stopped", seconds=round(time.monotonic() - started, 1), pid=os.getpid())
    return 0

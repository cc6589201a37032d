"""Run the real server (python server.py) as a subprocess, as an operator would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    def __init__(
        self, docker_host: str, data_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None
    ) -> None:
        self.docker_host = docker_host
        self.data_dir = data_dir
        self._args = args or []
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self._ready = data_dir.parent / f"{data_dir.name}-ready"
        self._env = env or {}
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the server is not started")
        return self._process.pid

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> ServerProcess:
        self._ready.unlink(missing_ok=True)
        env = {**os.environ, **self._env, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "server.py"),
                    "--listen",
                    "127.0.0.1:0",
                    "--docker-host",
                    self.docker_host,
                    "--data-dir",
                    str(self.data_dir),
                    "--ready-file",
                    str(self._ready),
                    "--log-format",
                    "json",
                    "--stop-grace",
                    "3",
                    *self._args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        deadline = time.monotonic() + timeout
        while not self._ready.exists() or not self._ready.read_text().strip():
            if self._process.poll() is not None:
                raise RuntimeError(f"server exited with {self._process.returncode}:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not ready after {timeout}s:\n{self.logs()}")
            time.sleep(0.05)
        self.port = int(self._ready.read_text())
        return self

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut would end it: no cleanup, no last journal write."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

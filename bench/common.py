"""Shared by the benchmarks: a private engine, the real server, and a little statistics."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess  # noqa: E402

__all__ = ["ROOT", "ServerProcess", "engine", "median", "peak_rss_mb", "percentile", "result"]


def engine() -> str:
    """The engine to measure on: CONTAINERZ_BENCH_DOCKER_HOST, else the private one (started if needed)."""
    configured = os.environ.get("CONTAINERZ_BENCH_DOCKER_HOST")
    if configured:
        return configured
    started = subprocess.run(
        ["bash", str(ROOT / "scripts" / "engine.sh"), "start"], check=True, stdout=subprocess.PIPE, text=True
    )
    return started.stdout.strip().splitlines()[-1].split("=", 1)[1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set size (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def result(name: str, value: float, op: str, target: float) -> str:
    return f"RESULT {name} {value:.3f} (target {op} {target})"

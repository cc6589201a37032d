"""Command line: ``python server.py [flags]``. Every flag has an environment variable."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from containerz import __version__, device
from containerz.app import serve
from containerz.heap import reuse_chunk_sized_blocks
from containerz.logs import configure_logging
from containerz.settings import DEFAULT_VOLUME_SYNC_SECONDS, MAX_CHUNK_SIZE, RedundancySettings, Settings

_DEFAULTS = Settings()


def _env(environ: Mapping[str, str], *names: str, default: str) -> str:
    return next((environ[n] for n in names if environ.get(n)), default)


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="server.py",
        description="gNOI Containerz server on a Docker engine. Each flag can also be set by the "
        "environment variable shown; a flag wins over the variable.",
    )
    parser.add_argument("--version", action="version", version=f"containerz-py {__version__}")
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=_env(environ, "CONTAINERZ_LISTEN", default=_DEFAULTS.listen),
        help="gRPC address to serve on [CONTAINERZ_LISTEN] (default: %(default)s)",
    )
    parser.add_argument(
        "--docker-host",
        metavar="URL",
        default=_env(environ, "CONTAINERZ_DOCKER_HOST", "DOCKER_HOST", default=_DEFAULTS.docker_host),
        help="Docker engine to run containers on [CONTAINERZ_DOCKER_HOST, then DOCKER_HOST] (default: %(default)s)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        type=Path,
        default=Path(_env(environ, "CONTAINERZ_DATA_DIR", default=str(_DEFAULTS.data_dir))),
        help="where uploads and plugin tarballs are kept [CONTAINERZ_DATA_DIR] (default: %(default)s)",
    )
    parser.add_argument(
        "--chunk-size",
        metavar="BYTES",
        type=int,
        default=int(_env(environ, "CONTAINERZ_CHUNK_SIZE", default=str(_DEFAULTS.chunk_size))),
        help=f"Deploy chunk size offered to clients, 1..{MAX_CHUNK_SIZE} [CONTAINERZ_CHUNK_SIZE] "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--stop-grace",
        metavar="SECONDS",
        type=int,
        default=int(_env(environ, "CONTAINERZ_STOP_GRACE", default=str(_DEFAULTS.stop_grace_seconds))),
        help="seconds between SIGTERM and SIGKILL on a graceful StopContainer [CONTAINERZ_STOP_GRACE] "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--name",
        default=_env(environ, "CONTAINERZ_NAME", default=_DEFAULTS.name),
        help="this control processor's component name in gNMI and gNOI System [CONTAINERZ_NAME] (default: %(default)s)",
    )
    redundancy = parser.add_argument_group(
        "one of two control processors",
        "give all of --arbiter, --peer-name, --peer-address and --peer-listen (normally "
        "'server.py device' does this for you)",
    )
    redundancy.add_argument(
        "--arbiter",
        metavar="PATH",
        type=Path,
        default=_env(environ, "CONTAINERZ_ARBITER", default="") or None,
        help="lock file both control processors contend for; whoever holds it is active [CONTAINERZ_ARBITER]",
    )
    redundancy.add_argument(
        "--peer-name",
        default=_env(environ, "CONTAINERZ_PEER_NAME", default=""),
        help="the other control processor's component name [CONTAINERZ_PEER_NAME]",
    )
    redundancy.add_argument(
        "--peer-address",
        metavar="HOST:PORT",
        default=_env(environ, "CONTAINERZ_PEER_ADDRESS", default=""),
        help="the other control processor's replication endpoint [CONTAINERZ_PEER_ADDRESS]",
    )
    redundancy.add_argument(
        "--peer-listen",
        metavar="HOST:PORT",
        default=_env(environ, "CONTAINERZ_PEER_LISTEN", default=""),
        help="this control processor's replication endpoint [CONTAINERZ_PEER_LISTEN]",
    )
    redundancy.add_argument(
        "--service-listen",
        metavar="HOST:PORT",
        default=_env(environ, "CONTAINERZ_SERVICE_LISTEN", default="") or None,
        help="the device's shared address, served by whichever control processor is active [CONTAINERZ_SERVICE_LISTEN]",
    )
    redundancy.add_argument(
        "--volume-sync-interval",
        metavar="SECONDS",
        type=float,
        default=float(_env(environ, "CONTAINERZ_VOLUME_SYNC_INTERVAL", default=str(DEFAULT_VOLUME_SYNC_SECONDS))),
        help="how often the active copies changed volume contents to the standby, which bounds what a crash "
        "of the active can lose of them; 0 copies only on a planned switchover "
        "[CONTAINERZ_VOLUME_SYNC_INTERVAL] (default: %(default)s)",
    )
    redundancy.add_argument(
        "--reboot-exit-code",
        metavar="CODE",
        type=int,
        default=None,
        help="on a cold reboot, exit with CODE for the chassis to power-cycle the device (set by 'server.py device')",
    )
    parser.add_argument(
        "--reconcile-interval",
        metavar="SECONDS",
        type=float,
        default=float(
            _env(environ, "CONTAINERZ_RECONCILE_INTERVAL", default=str(_DEFAULTS.reconcile_interval_seconds))
        ),
        help="how often recorded containers, volumes and plugins the engine lost are recreated "
        "[CONTAINERZ_RECONCILE_INTERVAL] (default: %(default)s)",
    )
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        default=_env(environ, "CONTAINERZ_LOG_FORMAT", default=_DEFAULTS.log_format),
        help="log format; auto = JSON unless stderr is a terminal [CONTAINERZ_LOG_FORMAT] (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default=_env(environ, "CONTAINERZ_LOG_LEVEL", default=_DEFAULTS.log_level),
        help="[CONTAINERZ_LOG_LEVEL] (default: %(default)s)",
    )
    parser.add_argument(
        "--ready-file",
        metavar="PATH",
        type=Path,
        default=None,
        help="once serving, write the bound port to PATH (useful with --listen HOST:0)",
    )
    return parser


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[Settings, argparse.Namespace]:
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    if not 0 < args.chunk_size <= MAX_CHUNK_SIZE:
        parser.error(f"--chunk-size must be between 1 and {MAX_CHUNK_SIZE}")
    if args.stop_grace < 0:
        parser.error("--stop-grace must not be negative")
    if args.reconcile_interval <= 0:
        parser.error("--reconcile-interval must be positive")
    if args.volume_sync_interval < 0:
        parser.error("--volume-sync-interval must not be negative")
    redundancy = None
    if args.arbiter is not None:
        missing = [flag for flag in ("peer_name", "peer_address", "peer_listen") if not getattr(args, flag)]
        if missing:
            parser.error("--arbiter needs " + ", ".join("--" + m.replace("_", "-") for m in missing))
        if args.peer_name == args.name:
            parser.error("--peer-name must differ from --name")
        redundancy = RedundancySettings(
            peer_name=args.peer_name,
            peer_address=args.peer_address,
            peer_listen=args.peer_listen,
            arbiter=args.arbiter,
            service_listen=args.service_listen,
            reboot_exit_code=args.reboot_exit_code,
            volume_sync_seconds=args.volume_sync_interval,
        )
    settings = Settings(
        listen=args.listen,
        docker_host=args.docker_host,
        data_dir=args.data_dir,
        chunk_size=args.chunk_size,
        stop_grace_seconds=args.stop_grace,
        reconcile_interval_seconds=args.reconcile_interval,
        name=args.name,
        redundancy=redundancy,
        log_format=args.log_format,
        log_level=args.log_level,
    )
    return settings, args


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["device"]:
        return device.main(arguments[1:], os.environ)
    settings, args = parse_settings(arguments, os.environ)
    configure_logging(settings.log_level, settings.log_format)
    reuse_chunk_sized_blocks()
    try:
        outcome = asyncio.run(serve(settings, ready_file=args.ready_file))
    except OSError as exc:
        print(f"server.py: {exc}", file=sys.stderr)
        return 1
    if outcome.reboot and settings.redundancy is not None and settings.redundancy.reboot_exit_code is not None:
        return settings.redundancy.reboot_exit_code  # the chassis power-cycles the device
    if outcome.reboot:
        # A cold reboot restarts the process; it keeps the address it had, even one picked with port 0.
        restarted = [sys.executable, sys.argv[0], *with_listen(arguments, outcome.listen)]
        os.execv(sys.executable, restarted)
    return 0


def with_listen(arguments: Sequence[str], listen: str) -> list[str]:
    """``arguments`` with ``--listen`` set to ``listen``."""
    out: list[str] = []
    skip = False
    for argument in arguments:
        if skip:
            skip = False
        elif argument == "--listen":
            skip = True
        elif not argument.startswith("--listen="):
            out.append(argument)
    return [*out, "--listen", listen]

"""Fetch an image tarball over SFTP or SCP with the system's OpenSSH client.

Using ``scp`` keeps an SSH stack out of the server. A password is handed to ``scp``
through ``SSH_ASKPASS`` (an environment variable read by a one-line helper script), so
it never appears in a process's arguments. Host keys are trusted on first use and
remembered in the data directory, as a device that has never seen the server must.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from containerz import errors
from containerz.engine.base import RegistryAuth

_POLL_SECONDS = 0.2
_CONNECT_TIMEOUT_SECONDS = 10
_URL = re.compile(r"^(?:sftp|scp)://(?:(?P<user>[^@/]+)@)?(?P<host>\[[^\]]+\]|[^:/]+)(?::(?P<port>\d+))?(?P<path>/.*)$")
_SHORT = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>\[[^\]]+\]|[^:/]+):(?P<path>.+)$")
_ASKPASS_SCRIPT = '#!/bin/sh\nprintf "%s\\n" "$CONTAINERZ_SSH_PASSWORD"\n'


@dataclass(frozen=True)
class SshLocation:
    host: str
    path: str
    port: int | None = None
    user: str | None = None

    @property
    def target(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.host}:{self.path}"


def parse_location(path: str) -> SshLocation:
    """``host:/path``, ``user@host:/path`` or ``sftp://[user@]host[:port]/path`` (``scp://`` alike)."""
    match = _URL.match(path) or _SHORT.match(path)
    if match is None or match["host"].startswith("-"):
        raise errors.InvalidArgument(
            f"remote_download.path {path!r} is not an SSH location: use host:/path or sftp://[user@]host[:port]/path"
        )
    port = match.groupdict().get("port")
    return SshLocation(host=match["host"], path=match["path"], port=int(port) if port else None, user=match["user"])


def ssh_download(
    location: SshLocation, destination: Path, auth: RegistryAuth | None, use_sftp: bool, state_dir: Path
) -> Iterator[int]:
    """Copy ``location`` to ``destination`` (fsynced), yielding the bytes received so far."""
    askpass = state_dir / "ssh-askpass"
    if not askpass.exists():
        askpass.write_text(_ASKPASS_SCRIPT)
        askpass.chmod(0o700)
    user = auth.username if auth and auth.username else location.user
    command = [
        "scp",
        "-s" if use_sftp else "-O",  # SFTP protocol, or the legacy SCP protocol
        "-o",
        "LogLevel=ERROR",  # not -q, which also hides why authentication failed
        "-o",
        f"ConnectTimeout={_CONNECT_TIMEOUT_SECONDS}",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        f"UserKnownHostsFile={state_dir / 'ssh_known_hosts'}",
        "-o",
        "NumberOfPasswordPrompts=1",
    ]
    if location.port:
        command += ["-P", str(location.port)]
    command += ["--", SshLocation(location.host, location.path, None, user).target, str(destination)]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state_dir),
        "SSH_ASKPASS": str(askpass),
        "SSH_ASKPASS_REQUIRE": "force" if auth and auth.password else "never",
        "CONTAINERZ_SSH_PASSWORD": auth.password if auth else "",
    }
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
        )
    except FileNotFoundError as exc:
        raise errors.Unavailable("SFTP/SCP downloads need the OpenSSH client (scp) on the device") from exc
    try:
        while process.poll() is None:
            time.sleep(_POLL_SECONDS)
            if destination.exists():
                yield destination.stat().st_size
        stderr = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise _scp_error(location, stderr)
    with destination.open("rb") as copied:
        os.fsync(copied.fileno())
    yield destination.stat().st_size


def _scp_error(location: SshLocation, stderr: str) -> errors.ContainerzError:
    where = f"{location.host}:{location.path}"
    text = stderr.lower()
    if "no such file" in text or "not found" in text:
        return errors.NotFound(f"download {where}: {stderr}")
    if "permission denied" in text or "authentication" in text:
        return errors.PermissionDenied(f"download {where}: {stderr}; check the credentials")
    return errors.Unavailable(f"download {where}: {stderr or 'scp failed'}")

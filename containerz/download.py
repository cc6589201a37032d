"""Fetch an image tarball over HTTP(S) into a local file, reporting progress as it goes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import requests

from containerz import errors
from containerz.engine.base import RegistryAuth
from containerz.fsutil import free_bytes

_BLOCK = 1 << 20
_TIMEOUTS = (10, 60)  # connect, and between two reads


def http_download(url: str, destination: Path, auth: RegistryAuth | None) -> Iterator[int]:
    """Download ``url`` to ``destination`` (fsynced), yielding the bytes received so far.

    HTTPS certificates are verified against the system store, or ``REQUESTS_CA_BUNDLE``.
    """
    credentials = (auth.username, auth.password) if auth else None
    try:
        with requests.get(url, stream=True, auth=credentials, timeout=_TIMEOUTS) as response:
            _raise_for_status(url, response)
            announced = int(response.headers.get("Content-Length") or 0)
            available = free_bytes(destination.parent)
            if announced > available:
                raise errors.ResourceExhausted(
                    f"download {url}: {announced} bytes announced, only {available} free in {destination.parent}"
                )
            received = 0
            with destination.open("wb") as target:
                for block in response.iter_content(_BLOCK):
                    target.write(block)
                    received += len(block)
                    yield received
                target.flush()
                os.fsync(target.fileno())
            if announced and received != announced:
                raise errors.Unavailable(f"download {url}: connection closed after {received} of {announced} bytes")
    except requests.exceptions.SSLError as exc:
        raise errors.Unavailable(f"download {url}: TLS verification failed: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise errors.Unavailable(f"download {url}: {exc}") from exc


def _raise_for_status(url: str, response: requests.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    message = f"download {url}: the server answered HTTP {status} {response.reason}"
    if status == 404:
        raise errors.NotFound(message)
    if status in (401, 403):
        raise errors.PermissionDenied(message + "; check the credentials")
    raise errors.Unavailable(message)

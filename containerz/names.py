"""Validation of the names clients send, before anything touches the engine or the disk.

Image references follow Docker's reference grammar; instance, volume and plugin names
follow Docker's container-name rule. Every name that ends up in a file path (plugin
tarballs) is checked so it cannot leave its directory.
"""

from __future__ import annotations

import re

from containerz import errors
from containerz.model import DEFAULT_TAG

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_REPOSITORY = re.compile(rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_OBJECT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$")


def image_name(name: str, field: str = "name") -> str:
    if not name:
        raise errors.InvalidArgument(f"{field} is empty: give the image repository, e.g. 'cntrsrv_image'")
    if len(name) > 255 or ".." in name or not _REPOSITORY.match(name) or _looks_like_host_only(name):
        raise errors.InvalidArgument(
            f"{field} {name!r} is not a valid image repository: use lowercase letters, digits and "
            "'.', '_', '-' separated by '/', optionally after a registry 'host[:port]/'"
        )
    return name


def _looks_like_host_only(name: str) -> bool:
    first = name.split("/", 1)[0]
    return "/" not in name and (":" in first)


def image_tag(tag: str, field: str = "tag") -> str:
    if not tag:
        return DEFAULT_TAG
    if not _TAG.match(tag):
        raise errors.InvalidArgument(
            f"{field} {tag!r} is not a valid tag: up to 128 letters, digits, '_', '.', '-', "
            "not starting with '.' or '-'"
        )
    return tag


def object_name(name: str, kind: str, field: str = "name") -> str:
    """Instance, volume and plugin names: Docker's ``[a-zA-Z0-9][a-zA-Z0-9_.-]+`` rule, no '..'."""
    if not name:
        raise errors.InvalidArgument(f"{field} is empty: give the {kind} name")
    if ".." in name or not _OBJECT_NAME.match(name):
        raise errors.InvalidArgument(
            f"{field} {name!r} is not a valid {kind} name: start with a letter or digit, then use only "
            "letters, digits, '_', '.', '-' (no '/', no '..', at most 255 characters)"
        )
    return name

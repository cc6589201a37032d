"""gNMI paths: matching requested paths (wildcards included) against the platform's leaves, and
encoding leaves as updates in the encoding the client asked for."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from containerz import errors
from containerz.platform import Leaf
from protos.gnmi.proto.gnmi import gnmi_pb2 as gnmi

ORIGINS = ("", "openconfig")
SUPPORTED_ENCODINGS = (gnmi.JSON, gnmi.JSON_IETF, gnmi.PROTO)

Elems = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def elems_of(path: gnmi.Path) -> Elems:
    if path.element and not path.elem:
        raise errors.InvalidArgument("path uses the deprecated 'element' field; send 'elem' (gNMI 0.4+)")
    return tuple((elem.name, tuple(sorted(elem.key.items()))) for elem in path.elem)


def requested(prefix: gnmi.Path, path: gnmi.Path) -> Elems:
    """The full path a request names: prefix elements then path elements; an unknown origin is refused."""
    origin = path.origin or prefix.origin
    if origin not in ORIGINS:
        raise errors.NotFound(f"origin {origin!r} is not served here; use 'openconfig' (or none)")
    return elems_of(prefix) + elems_of(path)


def matches(pattern: Elems, leaf: Elems) -> bool:
    """Whether ``leaf`` is at or under ``pattern``: ``*`` matches one element or any key value,
    ``...`` any number of elements, and a key left out matches any value."""
    if not pattern:
        return True
    (name, keys), rest = pattern[0], pattern[1:]
    if name == "...":
        return any(matches(rest, leaf[i:]) for i in range(len(leaf) + 1))
    if not leaf:
        return False
    leaf_name, leaf_keys = leaf[0]
    if name not in ("*", leaf_name):
        return False
    have = dict(leaf_keys)
    if any(value != "*" and have.get(key) != value for key, value in keys):
        return False
    return matches(rest, leaf[1:])


def select(leaves: Iterable[Leaf], pattern: Elems) -> list[Leaf]:
    return [leaf for leaf in leaves if matches(pattern, leaf[0])]


def to_path(elems: Elems) -> gnmi.Path:
    return gnmi.Path(elem=[gnmi.PathElem(name=name, key=dict(keys)) for name, keys in elems])


def render(path: Elems) -> str:
    return "/" + "/".join(name + "".join(f"[{k}={v}]" for k, v in keys) for name, keys in path)


def check_encoding(encoding: int) -> None:
    if encoding not in SUPPORTED_ENCODINGS:
        raise errors.Unimplemented(
            f"encoding {gnmi.Encoding.Name(encoding)} is not supported; use JSON_IETF, JSON or PROTO"
        )


def typed_value(value: object, encoding: int) -> gnmi.TypedValue:
    if encoding == gnmi.PROTO:
        if isinstance(value, bool):
            return gnmi.TypedValue(bool_val=value)
        if isinstance(value, int):
            return gnmi.TypedValue(uint_val=value)
        return gnmi.TypedValue(string_val=str(value))
    # RFC 7951: 64-bit integers are JSON strings in JSON_IETF.
    encoded = json.dumps(str(value) if isinstance(value, int) and not isinstance(value, bool) else value).encode()
    if encoding == gnmi.JSON:
        return gnmi.TypedValue(json_val=json.dumps(value).encode())
    return gnmi.TypedValue(json_ietf_val=encoded)


def updates(leaves: Sequence[Leaf], encoding: int) -> list[gnmi.Update]:
    """Every leaf its own update, with its full path."""
    return [gnmi.Update(path=to_path(path), val=typed_value(value, encoding)) for path, value in leaves]


def response_prefix(prefix: gnmi.Path) -> gnmi.Path:
    """What responses carry as their prefix: the request's origin and target, echoed."""
    return gnmi.Path(origin=prefix.origin, target=prefix.target)

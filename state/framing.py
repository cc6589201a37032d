"""Length- and CRC-framed records, as etcd's WAL frames them, and how a damaged file is read.

A frame is an 8-byte header (payload length, CRC-32 of the payload; both little-endian u32)
followed by the payload. Records are fsynced before they are acknowledged, so damage at the
very end of the last file is a write the crash cut short and nobody was told about: it is cut
off ("torn tail"). Damage followed by more data is not something a crash does; reading stops
with an error naming the file and offset, because silently skipping acknowledged records
would lose them.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from state.records import JournalError

_HEADER = struct.Struct("<II")
HEADER_BYTES = _HEADER.size
# A record is a few hundred bytes of JSON; anything claiming more is a damaged length field.
MAX_PAYLOAD_BYTES = 16 << 20


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


@dataclass(frozen=True)
class Scan:
    payloads: list[bytes]
    good_bytes: int  # the prefix holding whole, intact frames
    torn_bytes: int  # what follows it: a torn tail, to be cut off


def scan(data: bytes, path: Path) -> Scan:
    """Split ``data`` (a journal file's content) into payloads; see the module doc for damage."""
    payloads = list(_frames(data, path))
    good = sum(HEADER_BYTES + len(p) for p in payloads)
    return Scan(payloads, good, len(data) - good)


def _frames(data: bytes, path: Path) -> Iterator[bytes]:
    offset = 0
    while offset < len(data):
        if len(data) - offset < HEADER_BYTES:
            return  # a torn header
        length, crc = _HEADER.unpack_from(data, offset)
        if length == 0:  # payloads are never empty
            if data.count(0, offset) == len(data) - offset:
                return  # zero-filled space a crash left after the last write
            raise JournalError(f"{path}: empty record at offset {offset} followed by data; the journal is corrupt")
        end = offset + HEADER_BYTES + length
        if length > MAX_PAYLOAD_BYTES:
            if end >= len(data):
                return
            raise JournalError(f"{path}: record at offset {offset} claims {length} bytes; the journal is corrupt")
        if end > len(data):
            return  # the last record was cut short
        payload = data[offset + HEADER_BYTES : end]
        if zlib.crc32(payload) != crc:
            if end == len(data):
                return  # the last record's pages did not all reach the disk
            raise JournalError(
                f"{path}: record at offset {offset} fails its CRC check and more records follow; "
                "the journal is corrupt (restore the state directory from the standby or a backup)"
            )
        yield payload
        offset = end

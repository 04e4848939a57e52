"""The classic libpcap file format: a 24-byte file header, then records of a 16-byte header and data.

Both byte orders, microsecond (magic ``a1b2c3d4``) and nanosecond (``a1b23c4d``) timestamps.
"""

from __future__ import annotations

import struct
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..spec.segment import Segment
from .notes import CaptureError, NoteKind, NoteLog
from .source import MAX_RECORD, Input, RawRecord

if TYPE_CHECKING:  # the native fast path may not be built; only its type is needed here
    from ._speedups import Batch

__all__ = ["PCAP_MAGICS", "PcapHeader", "pcap_records", "read_pcap_header"]

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
"""File magic -> (struct byte order, nanoseconds per timestamp fraction unit)."""

_FILE_HEADER_LEN = 24
_RECORD_HEADER_LEN = 16


@dataclass(frozen=True, slots=True)
class PcapHeader:
    """The pcap file header: byte order, timestamp unit, format version, snapshot length, link type."""

    byteorder: str
    ns_per_unit: int
    version: tuple[int, int]
    snaplen: int
    linktype: int


def read_pcap_header(inp: Input) -> PcapHeader:
    """Consume and decode the 24-byte file header; ``CaptureError`` when it is cut short."""
    if not inp.fill(_FILE_HEADER_LEN):
        raise CaptureError(f"pcap file header cut short: {inp.available} of {_FILE_HEADER_LEN} bytes")
    order, ns_per_unit = PCAP_MAGICS[inp.buf[inp.pos : inp.pos + 4]]
    fields = struct.unpack_from(order + "HHiIII", inp.buf, inp.pos + 4)
    major, minor, _zone, _sigfigs, snaplen, linktype = fields
    inp.pos += _FILE_HEADER_LEN
    return PcapHeader(order, ns_per_unit, (major, minor), snaplen, linktype & 0xFFFF)


def pcap_records(
    inp: Input, header: PcapHeader, notes: NoteLog, batch: Batch | None = None
) -> Generator[RawRecord | Segment, None, int]:
    """Yield every record (a cut or absurd record header ends the file with a note); return the count.

    With ``batch``, the records that lie whole in the buffer are decoded natively (a Segment each, or
    the raw record when the Python decoder must take it); this loop then handles the record at the
    buffer's end (refill, notes) and hands the next chunk back.
    """
    unpack = struct.Struct(header.byteorder + "IIII").unpack_from
    ns_per_unit, linktype = header.ns_per_unit, header.linktype
    buf, pos, frame = inp.buf, inp.pos, 0
    little = header.byteorder == "<"
    decoded: list[RawRecord | Segment] = []
    while True:
        if batch is not None:
            pos, frame = batch.pcap(buf, pos, frame, decoded, little, ns_per_unit, linktype)
            yield from decoded
            decoded.clear()
        if pos + _RECORD_HEADER_LEN > len(buf):
            inp.pos = pos
            if not inp.fill(_RECORD_HEADER_LEN):
                if inp.available:
                    notes.add(
                        frame + 1,
                        NoteKind.TRUNCATED_RECORD,
                        f"file ends inside a record header ({inp.available} of 16 bytes)",
                    )
                return frame
            buf, pos = inp.buf, inp.pos
        sec, frac, caplen, orig_len = unpack(buf, pos)
        end = pos + _RECORD_HEADER_LEN + caplen
        if caplen > MAX_RECORD:
            notes.add(
                frame + 1, NoteKind.GARBAGE_RECORD, f"record of {caplen} bytes is impossible; reading stops"
            )
            return frame
        if end > len(buf):
            inp.pos = pos
            if not inp.fill(_RECORD_HEADER_LEN + caplen):
                kept = inp.available - _RECORD_HEADER_LEN
                notes.add(
                    frame + 1,
                    NoteKind.TRUNCATED_RECORD,
                    f"file ends inside a record: {kept} of {caplen} bytes",
                )
                return frame
            buf, pos = inp.buf, inp.pos
            end = pos + _RECORD_HEADER_LEN + caplen
        frame += 1
        yield (
            frame,
            sec * 1_000_000_000 + frac * ns_per_unit,
            0,
            linktype,
            buf[pos + _RECORD_HEADER_LEN : end],
            orig_len,
        )
        pos = end

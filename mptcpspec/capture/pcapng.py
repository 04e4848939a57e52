"""The pcapng file format: blocks of (type, length, body, length) grouped in sections.

Section Header Blocks set the byte order and reset the interface list; Interface Description Blocks
give each interface its link type, snapshot length and timestamp resolution (``if_tsresol``,
``if_tsoffset``); Enhanced, Simple and obsolete Packet Blocks carry packets.  Other blocks are skipped.
A block whose trailing length disagrees is noted and skipped by its leading length (resync); a block
length that cannot be right ends the file with a note.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from .notes import CaptureError, NoteKind, NoteLog
from .source import MAX_RECORD, Input, RawRecord

__all__ = ["SHB_MAGIC", "check_section_header", "first_linktype", "pcapng_records"]

SHB_MAGIC = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDERS = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
_IDB, _OPB, _SPB, _EPB = 1, 2, 3, 6
_OPT_TSRESOL, _OPT_TSOFFSET = 9, 14
_BLOCK_HEAD = 12
_MAX_PEEK_BLOCKS = 64

_Packet = tuple[int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class _Interface:
    """What an IDB says: link type, snapshot length, and ``ns = ts * mul // div + offset_ns``."""

    linktype: int
    snaplen: int
    mul: int
    div: int
    offset_ns: int


def check_section_header(inp: Input) -> None:
    """Raise ``CaptureError`` unless the input starts with a readable Section Header Block."""
    if not inp.fill(_BLOCK_HEAD) or inp.buf[inp.pos + 8 : inp.pos + 12] not in _BYTE_ORDERS:
        raise CaptureError("pcapng section header block is cut short or has no valid byte-order magic")


def first_linktype(inp: Input) -> int | None:
    """Peek (without consuming) at the blocks before the first packet for interface 0's link type."""
    rel, order = 0, ""
    for _ in range(_MAX_PEEK_BLOCKS):
        if not inp.fill(rel + _BLOCK_HEAD):
            return None
        at = inp.pos + rel
        if inp.buf[at : at + 4] == SHB_MAGIC:
            order = _BYTE_ORDERS.get(inp.buf[at + 8 : at + 12], "")
        if not order:
            return None
        block_type, length = struct.unpack_from(order + "II", inp.buf, at)
        if block_type == _IDB:
            return int(struct.unpack_from(order + "H", inp.buf, at + 8)[0])
        if block_type in (_OPB, _SPB, _EPB) or length < _BLOCK_HEAD or length % 4:
            return None
        rel += length
    return None


def _options(buf: bytes, start: int, end: int, order: str) -> Iterator[tuple[int, bytes]]:
    """Walk a pcapng options list: (code, value) until opt_endofopt or the end of the block."""
    while start + 4 <= end:
        code, length = struct.unpack_from(order + "HH", buf, start)
        if code == 0 or start + 4 + length > end:
            return
        yield code, buf[start + 4 : start + 4 + length]
        start += 4 + ((length + 3) & ~3)


def _interface(buf: bytes, start: int, end: int, order: str) -> _Interface:
    """Decode an Interface Description Block body (``start`` just after the block length)."""
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", buf, start)
    mul, div, offset_ns = 1000, 1, 0
    for code, value in _options(buf, start + 8, end, order):
        if code == _OPT_TSRESOL and value:
            exponent = value[0] & 0x7F
            units = 2**exponent if value[0] & 0x80 else 10**exponent
            mul, div = (10**9 // units, 1) if 10**9 % units == 0 else (10**9, units)
        elif code == _OPT_TSOFFSET and len(value) == 8:
            offset_ns = struct.unpack(order + "q", value)[0] * 10**9
    return _Interface(linktype, snaplen, mul, div, offset_ns)


def _packet_fields(block_type: int, buf: bytes, pos: int, length: int, order: str) -> _Packet | None:
    """(interface, raw timestamp or -1, caplen, orig_len, data offset) of a packet block, else None."""
    if block_type in (_EPB, _OPB) and length >= 32:
        word, ts_high, ts_low, caplen, orig_len = struct.unpack_from(order + "IIIII", buf, pos + 8)
        if block_type == _OPB:  # interface id (16 bits) and drops count share the first word
            word = word & 0xFFFF if order == "<" else word >> 16
        return word, (ts_high << 32) | ts_low, caplen, orig_len, pos + 28
    if block_type == _SPB and length >= 16:
        orig_len = struct.unpack_from(order + "I", buf, pos + 8)[0]
        return 0, -1, min(orig_len, length - 16), orig_len, pos + 12
    return None


def pcapng_records(inp: Input, notes: NoteLog) -> Iterator[RawRecord]:
    """Yield every packet of every section; notes for cut, garbage and unusable blocks."""
    order, interfaces = "<", list[_Interface]()
    frame, last_ns = 0, 0
    while True:
        if not inp.fill(_BLOCK_HEAD):
            if inp.available:
                notes.add(
                    frame + 1,
                    NoteKind.TRUNCATED_RECORD,
                    f"file ends inside a block header: {inp.available} bytes",
                )
            return
        buf, pos = inp.buf, inp.pos
        if buf[pos : pos + 4] == SHB_MAGIC:
            order, interfaces = _BYTE_ORDERS.get(buf[pos + 8 : pos + 12], ""), []
            if not order:
                notes.add(
                    frame + 1,
                    NoteKind.GARBAGE_RECORD,
                    "section header has no byte-order magic; reading stops",
                )
                return
        block_type, length = struct.unpack_from(order + "II", buf, pos)
        if length < _BLOCK_HEAD or length % 4 or length > MAX_RECORD:
            notes.add(frame + 1, NoteKind.GARBAGE_RECORD, f"block length {length} impossible; reading stops")
            return
        if not inp.fill(length):
            notes.add(
                frame + 1,
                NoteKind.TRUNCATED_RECORD,
                f"file ends in a block: {inp.available} of {length} bytes",
            )
            return
        buf, pos = inp.buf, inp.pos
        inp.pos = end = pos + length
        if struct.unpack_from(order + "I", buf, end - 4)[0] != length:
            notes.add(
                frame + 1,
                NoteKind.GARBAGE_RECORD,
                f"block type {block_type}: trailing length differs; skipped",
            )
            continue
        if block_type == _IDB and length >= 20:
            interfaces.append(_interface(buf, pos + 8, end - 4, order))
            continue
        fields = _packet_fields(block_type, buf, pos, length, order)
        if fields is None:
            continue
        ifindex, ts, caplen, orig_len, start = fields
        frame += 1
        if ifindex >= len(interfaces) or start + caplen > end - 4:
            message = (
                f"packet for interface {ifindex} of {len(interfaces)}: {caplen} bytes in {length}-byte block"
            )
            notes.add(frame, NoteKind.GARBAGE_RECORD, message)
            continue
        iface = interfaces[ifindex]
        if ts < 0:
            notes.add(frame, NoteKind.NO_TIMESTAMP, "simple packet block: time of the previous packet used")
            caplen = min(caplen, iface.snaplen or caplen)
        else:
            last_ns = ts * iface.mul // iface.div + iface.offset_ns
        yield frame, last_ns, ifindex, iface.linktype, buf[start : start + caplen], orig_len

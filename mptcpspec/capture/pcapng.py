"""The pcapng file format: blocks of (type, length, body, length) grouped in sections.

Section Header Blocks set the byte order and reset the interface list; Interface Description Blocks
give each interface its link type, snapshot length and timestamp resolution (``if_tsresol``,
``if_tsoffset``); Enhanced, Simple and obsolete Packet Blocks carry packets.  Other blocks are skipped.
A block whose trailing length disagrees is noted and skipped by its leading length (resync); a block
length that cannot be right ends the file with a note.
"""

from __future__ import annotations

import struct
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, NamedTuple

from ..spec.segment import Segment
from .notes import CaptureError, NoteKind, NoteLog
from .source import MAX_RECORD, Input, RawRecord

if TYPE_CHECKING:  # the native fast path may not be built; only its type is needed here
    from ._speedups import Batch

__all__ = ["SHB_MAGIC", "check_section_header", "first_linktype", "pcapng_records"]

SHB_MAGIC = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDERS = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
_SHB, _IDB, _OPB, _SPB, _EPB = 0x0A0D0D0A, 1, 2, 3, 6
_OPT_TSRESOL, _OPT_TSOFFSET = 9, 14
_BLOCK_HEAD = 12
_MAX_PEEK_BLOCKS = 64

_Packet = tuple[int, int, int, int, int]
_STRUCTS = {
    order: (struct.Struct(order + "II"), struct.Struct(order + "IIIII"), struct.Struct(order + "I"))
    for order in "<>"
}


class _Interface(NamedTuple):
    """What an IDB says: link type, snapshot length, and ``ns = ts * mul // div + offset_ns`` (a tuple,
    so that the native fast path reads the same list)."""

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


def _other_packet(block_type: int, buf: bytes, pos: int, length: int, order: str) -> _Packet | None:
    """(interface, raw timestamp or -1, caplen, orig_len, data offset) of an OPB or SPB, else None."""
    if block_type == _OPB and length >= 32:
        word, ts_high, ts_low, caplen, orig_len = _STRUCTS[order][1].unpack_from(buf, pos + 8)
        word = word & 0xFFFF if order == "<" else word >> 16  # interface id and drops count share a word
        return word, (ts_high << 32) | ts_low, caplen, orig_len, pos + 28
    if block_type == _SPB and length >= 16:
        orig_len = _STRUCTS[order][2].unpack_from(buf, pos + 8)[0]
        return 0, -1, min(orig_len, length - 16), orig_len, pos + 12
    return None


def _block(inp: Input, notes: NoteLog, frame: int, order: str) -> tuple[str, int, int] | None:
    """Make the next whole block available at ``inp.pos``: (byte order, type, length), or None to stop.

    A Section Header Block sets the byte order; cut or impossible blocks end the file with a note.
    """
    if inp.pos + _BLOCK_HEAD > len(inp.buf) and not inp.fill(_BLOCK_HEAD):
        if inp.available:
            notes.add(
                frame + 1, NoteKind.TRUNCATED_RECORD, f"file ends in a block header: {inp.available} bytes"
            )
        return None
    if inp.buf[inp.pos : inp.pos + 4] == SHB_MAGIC:
        order = _BYTE_ORDERS.get(inp.buf[inp.pos + 8 : inp.pos + 12], "")
        if not order:
            notes.add(frame + 1, NoteKind.GARBAGE_RECORD, "section header without byte-order magic; stopping")
            return None
    block_type, length = _STRUCTS[order][0].unpack_from(inp.buf, inp.pos)
    if length < _BLOCK_HEAD or length % 4 or length > MAX_RECORD:
        notes.add(frame + 1, NoteKind.GARBAGE_RECORD, f"block length {length} impossible; reading stops")
        return None
    if inp.pos + length > len(inp.buf) and not inp.fill(length):
        notes.add(
            frame + 1, NoteKind.TRUNCATED_RECORD, f"file ends in a block: {inp.available} of {length} bytes"
        )
        return None
    return order, block_type, length


def pcapng_records(
    inp: Input, notes: NoteLog, batch: Batch | None = None
) -> Generator[RawRecord | Segment, None, int]:
    """Yield every packet of every section (notes for cut, garbage and unusable blocks); return the count.

    With ``batch``, the Enhanced Packet Blocks that lie whole in the buffer are decoded natively (a
    Segment each, or the raw record when the Python decoder must take it) until a block this loop must
    handle: another block type, one cut by the buffer's end or damaged, or a packet of an interface whose
    timestamp resolution is not a whole number of nanoseconds.
    """
    order, interfaces = "<", list[_Interface]()
    head, epb, word = _STRUCTS[order]
    frame, last_ns, untimed = 0, 0, False
    decoded: list[RawRecord | Segment] = []
    while True:
        if batch is not None:
            inp.pos, frame, last_ns = batch.pcapng(
                inp.buf, inp.pos, frame, decoded, order == "<", interfaces, last_ns
            )
            yield from decoded
            decoded.clear()
        buf, pos = inp.buf, inp.pos
        block_type, length = head.unpack_from(buf, pos) if pos + _BLOCK_HEAD <= len(buf) else (0, 0)
        if block_type != _EPB or length < 32 or length & 3 or pos + length > len(buf):  # not the common case
            block = _block(inp, notes, frame, order)
            if block is None:
                return frame
            new_order, block_type, length = block
            if block_type == _SHB:
                order, interfaces = new_order, []
                head, epb, word = _STRUCTS[order]
            buf, pos = inp.buf, inp.pos
        inp.pos = end = pos + length
        if word.unpack_from(buf, end - 4)[0] != length:
            notes.add(frame + 1, NoteKind.GARBAGE_RECORD, f"block type {block_type}: trailing length differs")
            continue
        if block_type == _EPB and length >= 32:
            ifindex, ts_high, ts_low, caplen, orig_len = epb.unpack_from(buf, pos + 8)
            ts, start = (ts_high << 32) | ts_low, pos + 28
        elif block_type == _IDB and length >= 20:
            interfaces.append(_interface(buf, pos + 8, end - 4, order))
            continue
        elif (fields := _other_packet(block_type, buf, pos, length, order)) is not None:
            ifindex, ts, caplen, orig_len, start = fields
        else:
            continue
        frame += 1
        if ifindex >= len(interfaces) or start + caplen > end - 4:
            message = f"packet for interface {ifindex} of {len(interfaces)}: {caplen} bytes in {length}"
            notes.add(frame, NoteKind.GARBAGE_RECORD, message)
            continue
        iface = interfaces[ifindex]
        if ts >= 0:
            last_ns = ts * iface.mul // iface.div + iface.offset_ns
        else:
            caplen = min(caplen, iface.snaplen or caplen)
            if not untimed:
                notes.add(
                    frame, NoteKind.NO_TIMESTAMP, "simple packet blocks: time of the packet before used"
                )
                untimed = True
        yield frame, last_ns, ifindex, iface.linktype, buf[start : start + caplen], orig_len

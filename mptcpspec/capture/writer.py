"""Writing captures: crafted Segments -> pcap, and any capture -> pcapng with frame comments.

``write_pcap`` turns Segments into real IPv4/IPv6 + TCP packets (valid checksums, options from
``tcp_options`` or else serialized from ``mptcp``, payload padded with zeros up to ``payload_len``)
framed for one of the link types the reader supports, so tests can build fixtures for every path of
the reader from conversations written as Segments.  ``write_annotated`` copies a capture to pcapng,
keeping every frame, timestamp and link type, with an ``opt_comment`` on the frames given.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import BinaryIO

from ..spec.options import serialize
from ..spec.segment import Segment
from .reader import Source, open_capture
from .source import Record

__all__ = ["LINKTYPES", "frame_packet", "ip_packet", "write_annotated", "write_pcap", "write_pcapng"]

LINKTYPES = {"raw": 101, "ethernet": 1, "sll": 113, "sll2": 276, "null": 0, "loop": 108}
"""The framings ``write_pcap`` can produce, by name -> LINKTYPE_ value."""

_ETHERTYPE = {4: b"\x08\x00", 6: b"\x86\xdd"}
_MACS = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"  # destination, source
_AF = {4: 2, 6: 30}  # AF_INET, and macOS's AF_INET6 (any BSD value reads back)
_PCAP_MAGIC = {False: 0xA1B2C3D4, True: 0xA1B23C4D}
_SNAPLEN = 262144


def _checksum(data: bytes) -> int:
    """Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _tcp_options(segment: Segment) -> bytes:
    """The options field: ``tcp_options`` if set, else the MPTCP options serialized; zero-padded to 4."""
    options = segment.tcp_options or b"".join(serialize(option) for option in segment.mptcp)
    options += b"\x00" * (-len(options) % 4)
    if len(options) > 40:
        raise ValueError(f"{len(options)} bytes of TCP options do not fit in a TCP header (40 at most)")
    return options


def ip_packet(segment: Segment) -> bytes:
    """The whole IPv4 or IPv6 packet for ``segment``, with correct IP and TCP checksums."""
    options = _tcp_options(segment)
    payload = segment.payload[: segment.payload_len].ljust(segment.payload_len, b"\x00")
    header = struct.pack(
        "!HHIIBBHHH", segment.sport, segment.dport, segment.seq, segment.ack,
        (20 + len(options)) << 2, segment.flags, segment.window, 0, 0,
    )  # fmt: skip
    tcp = header + options + payload
    family = socket.AF_INET if segment.ip_version == 4 else socket.AF_INET6
    src, dst = socket.inet_pton(family, segment.src), socket.inet_pton(family, segment.dst)
    pseudo = src + dst + struct.pack("!IxxxB", len(tcp), 6)
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    if segment.ip_version == 6:
        return struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + src + dst + tcp
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0) + src + dst
    return ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:] + tcp


def frame_packet(packet: bytes, linktype: str, *, vlans: Sequence[int] = ()) -> bytes:
    """``packet`` (IPv4 or IPv6) with the link header of ``linktype`` (a key of ``LINKTYPES``).

    ``vlans`` adds 802.1Q tags to Ethernet frames, outermost first; with two or more the outer ones
    use the 802.1ad (QinQ) tag type.
    """
    version = packet[0] >> 4
    ethertype = _ETHERTYPE[version]
    if linktype == "ethernet":
        tags = b"".join(
            (b"\x88\xa8" if index < len(vlans) - 1 else b"\x81\x00") + struct.pack("!H", vid & 0x0FFF)
            for index, vid in enumerate(vlans)
        )
        return _MACS + tags + ethertype + packet
    if linktype == "sll":
        return struct.pack("!HHH", 0, 1, 6) + _MACS[6:] + b"\x00\x00" + ethertype + packet
    if linktype == "sll2":
        return ethertype + struct.pack("!HIHBB", 0, 1, 1, 0, 6) + _MACS[6:] + b"\x00\x00" + packet
    if linktype == "null":
        return struct.pack("<I", _AF[version]) + packet
    if linktype == "loop":
        return struct.pack("!I", _AF[version]) + packet
    if linktype == "raw":
        return packet
    raise ValueError(f"unknown link type {linktype!r}; one of {', '.join(LINKTYPES)}")


def write_pcap(
    path: str | os.PathLike[str] | BinaryIO,
    segments: Iterable[Segment],
    linktype: str = "raw",
    *,
    snaplen: int | None = None,
    nanosecond: bool = False,
    byteorder: str = "<",
    vlans: Sequence[int] = (),
) -> int:
    """Write ``segments`` as a pcap file; returns the number of packets written.

    ``snaplen`` cuts each record (the IP lengths keep the full size); ``nanosecond`` writes the
    nanosecond-resolution format; ``byteorder`` is ``"<"`` or ``">"``.
    """
    order = byteorder
    header = struct.pack(order + "IHHiIII", _PCAP_MAGIC[nanosecond], 2, 4, 0, 0, snaplen or _SNAPLEN,
                         LINKTYPES[linktype])  # fmt: skip
    units = 10**9 if nanosecond else 10**6
    count = 0
    with _open_out(path) as out:
        out.write(header)
        for segment in segments:
            data = frame_packet(ip_packet(segment), linktype, vlans=vlans)
            ticks = round(segment.time * units)
            kept = data[:snaplen] if snaplen else data
            out.write(struct.pack(order + "IIII", ticks // units, ticks % units, len(kept), len(data)) + kept)
            count += 1
    return count


def write_pcapng(
    path: str | os.PathLike[str] | BinaryIO,
    records: Iterable[Record],
    comments: Mapping[int, Sequence[str]] = {},
) -> int:
    """Write ``records`` as a little-endian pcapng file with nanosecond timestamps.

    Each distinct (interface, link type) of the input gets its own Interface Description Block;
    ``comments`` maps frame numbers to ``opt_comment`` texts.  Returns the number of frames written.
    """
    interfaces: dict[tuple[int, int], int] = {}
    count = 0
    with _open_out(path) as out:
        out.write(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        for record in records:
            key = (record.interface, record.linktype)
            if key not in interfaces:
                interfaces[key] = len(interfaces)
                tsresol = _option(9, b"\x09") + _option(0, b"")
                out.write(_block(1, struct.pack("<HHI", record.linktype, 0, 0) + tsresol))
            options = b"".join(_option(1, text.encode()) for text in comments.get(record.frame, ()))
            body = struct.pack("<IIIII", interfaces[key], record.ts_ns >> 32, record.ts_ns & 0xFFFFFFFF,
                               len(record.data), record.orig_len)  # fmt: skip
            data = record.data + b"\x00" * (-len(record.data) % 4)
            out.write(_block(6, body + data + (options + _option(0, b"") if options else b"")))
            count += 1
    return count


def write_annotated(
    src: Source, out: str | os.PathLike[str] | BinaryIO, comments: Mapping[int, Sequence[str]]
) -> int:
    """Copy the capture ``src`` (anything ``open_capture`` reads) to pcapng with frame comments.

    Every frame is kept with its timestamp and link type; frame numbers are those of the reader (and
    of Wireshark).  Returns the number of frames written.
    """
    return write_pcapng(out, open_capture(src).records(), comments)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


@contextlib.contextmanager
def _open_out(target: str | os.PathLike[str] | BinaryIO) -> Iterator[BinaryIO]:
    """Open a path for writing (and close it after), or use a stream as given (left open)."""
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as file:
            yield file
    else:
        yield target

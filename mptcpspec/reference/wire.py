"""Bytes on the wire for the reference endpoint: the TCP options field and IPv4 packets.

``tcp_options`` lays out what the endpoint sends (MSS and window scale on SYNs, then the MPTCP options,
NOP-padded to a multiple of four, RFC 9293 §3.1); ``encode_ipv4``/``decode_ipv4`` turn a ``Segment``
into an IPv4 packet with correct checksums and back, for drivers that move packets (the TUN driver).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence

from ..spec.crypto import ones_complement_sum
from ..spec.options import MptcpOption, scan_tcp_options, serialize
from ..spec.segment import Segment

__all__ = ["decode_ipv4", "encode_ipv4", "peer_mss", "peer_wscale", "tcp_options"]

MSS_KIND = 2
WSCALE_KIND = 3
MAX_OPTIONS = 40


def tcp_options(mss: int | None, mptcp: Sequence[MptcpOption], wscale: int | None = None) -> bytes:
    """The TCP options field: MSS and window scale (when given, RFC 7323 §2), the MPTCP options, and
    NOPs to a 4-byte boundary."""
    raw = struct.pack("!BBH", MSS_KIND, 4, mss) if mss is not None else b""
    raw += struct.pack("!BBB", WSCALE_KIND, 3, wscale) if wscale is not None else b""
    raw += b"".join(serialize(option) for option in mptcp)
    raw = b"\x01" * (-len(raw) % 4) + raw
    if len(raw) > MAX_OPTIONS:
        raise ValueError(f"TCP options need {len(raw)} bytes, at most {MAX_OPTIONS} fit")
    return raw


def _option_body(raw: bytes, kind: int) -> bytes | None:
    """The body of the first TCP option of ``kind`` in an options field, if there is one."""
    offset = 0
    while offset < len(raw) and raw[offset] != 0:
        if raw[offset] == 1:
            offset += 1
            continue
        if offset + 1 >= len(raw) or raw[offset + 1] < 2:
            return None
        if raw[offset] == kind:
            return raw[offset + 2 : offset + raw[offset + 1]]
        offset += raw[offset + 1]
    return None


def peer_mss(raw: bytes) -> int | None:
    """The MSS option's value in a TCP options field, if there is one."""
    body = _option_body(raw, MSS_KIND)
    return int.from_bytes(body, "big") if body is not None and len(body) == 2 else None


def peer_wscale(raw: bytes) -> int | None:
    """The window scale option's shift count (at most 14, RFC 7323 §2.3), if there is one."""
    body = _option_body(raw, WSCALE_KIND)
    return min(body[0], 14) if body is not None and len(body) == 1 else None


def _checksum(data: bytes) -> int:
    return ~ones_complement_sum(data) & 0xFFFF


def encode_ipv4(segment: Segment) -> bytes:
    """An IPv4 packet (DF set, TTL 64) carrying ``segment``, with IP and TCP checksums."""
    src = ipaddress.IPv4Address(segment.src).packed
    dst = ipaddress.IPv4Address(segment.dst).packed
    offset_words = 5 + len(segment.tcp_options) // 4
    tcp = (
        struct.pack(
            "!HHIIBBHHH",
            segment.sport,
            segment.dport,
            segment.seq & 0xFFFFFFFF,
            segment.ack & 0xFFFFFFFF,
            offset_words << 4,
            segment.flags,
            segment.window,
            0,
            0,
        )
        + segment.tcp_options
        + segment.payload
    )
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return header + tcp


def decode_ipv4(packet: bytes, now: float) -> Segment | None:
    """The TCP segment in an IPv4 packet, or None for anything else (other protocols, fragments, junk)."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != 6:
        return None
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack_from("!H", packet, 2)[0]
    tcp = packet[ihl:total]
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, offset, flags, window = struct.unpack_from("!HHIIBBH", tcp)
    data_offset = (offset >> 4) * 4
    raw_options = bytes(tcp[20:data_offset])
    payload = bytes(tcp[data_offset:])
    mptcp, errors = scan_tcp_options(raw_options, version=1)
    return Segment(
        frame=0,
        time=now,
        ip_version=4,
        src=str(ipaddress.IPv4Address(packet[12:16])),
        dst=str(ipaddress.IPv4Address(packet[16:20])),
        sport=sport,
        dport=dport,
        seq=seq,
        ack=ack,
        flags=flags,
        window=window,
        payload_len=len(payload),
        payload=payload,
        tcp_options=raw_options,
        mptcp=mptcp,
        option_errors=errors,
    )

"""Bytes on the wire for the reference endpoint: the TCP options field and IPv4 packets.

``tcp_options`` lays out what the endpoint sends (MSS and window scale on SYNs, then the MPTCP options,
NOP-padded to a multiple of four, RFC 9293 §3.1); ``encode_packet``/``decode_packet`` turn a ``Segment``
into an IPv4 or IPv6 packet with correct checksums and back, for drivers that move packets (TUN).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence

from ..spec.crypto import ones_complement_sum
from ..spec.options import MptcpOption, scan_tcp_options, serialize
from ..spec.segment import Segment

__all__ = ["decode_packet", "encode_packet", "peer_mss", "peer_wscale", "tcp_options"]

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


def _tcp_bytes(segment: Segment, pseudo: bytes) -> bytes:
    """The TCP header, options and payload, with the checksum over ``pseudo`` (the IP pseudo-header)."""
    header = struct.pack(
        "!HHIIBBHHH",
        segment.sport,
        segment.dport,
        segment.seq & 0xFFFFFFFF,
        segment.ack & 0xFFFFFFFF,
        (5 + len(segment.tcp_options) // 4) << 4,
        segment.flags,
        segment.window,
        0,
        0,
    )
    tcp = header + segment.tcp_options + segment.payload
    pseudo += struct.pack("!BBH", 0, 6, len(tcp)) if len(pseudo) == 8 else struct.pack("!I3xB", len(tcp), 6)
    return tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]


def encode_packet(segment: Segment) -> bytes:
    """An IPv4 (DF set, TTL 64) or IPv6 (hop limit 64) packet carrying ``segment``, checksums filled in."""
    if segment.ip_version == 6:
        src, dst = ipaddress.IPv6Address(segment.src).packed, ipaddress.IPv6Address(segment.dst).packed
        tcp = _tcp_bytes(segment, src + dst)
        return struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, src, dst) + tcp
    src, dst = ipaddress.IPv4Address(segment.src).packed, ipaddress.IPv4Address(segment.dst).packed
    tcp = _tcp_bytes(segment, src + dst)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    return header[:10] + struct.pack("!H", _checksum(header)) + header[12:] + tcp


def _addresses(packet: bytes) -> tuple[int, str, str, bytes] | None:
    """(IP version, source, destination, TCP bytes) of an IPv4 or IPv6 packet carrying TCP, else None."""
    version = packet[0] >> 4 if packet else 0
    if version == 4 and len(packet) >= 20 and packet[9] == 6:
        total = struct.unpack_from("!H", packet, 2)[0]
        ihl = (packet[0] & 0x0F) * 4
        src, dst = ipaddress.IPv4Address(packet[12:16]), ipaddress.IPv4Address(packet[16:20])
        return 4, str(src), str(dst), packet[ihl:total]
    if version == 6 and len(packet) >= 40 and packet[6] == 6:
        length = struct.unpack_from("!H", packet, 4)[0]
        src6, dst6 = ipaddress.IPv6Address(packet[8:24]), ipaddress.IPv6Address(packet[24:40])
        return 6, str(src6), str(dst6), packet[40 : 40 + length]
    return None


def decode_packet(packet: bytes, now: float) -> Segment | None:
    """The TCP segment in an IPv4 or IPv6 packet, or None for anything else (other protocols, IPv6
    extension headers, junk)."""
    found = _addresses(packet)
    if found is None or len(found[3]) < 20:
        return None
    version, src, dst, tcp = found
    sport, dport, seq, ack, offset, flags, window = struct.unpack_from("!HHIIBBH", tcp)
    data_offset = (offset >> 4) * 4
    raw_options = bytes(tcp[20:data_offset])
    payload = bytes(tcp[data_offset:])
    mptcp, errors = scan_tcp_options(raw_options, version=1)
    return Segment(
        frame=0,
        time=now,
        ip_version=version,
        src=src,
        dst=dst,
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

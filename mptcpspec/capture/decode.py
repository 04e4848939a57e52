"""IPv4, IPv6 and TCP headers -> ``Segment``: the reader's hot path.

Headers are decoded with precompiled ``struct.Struct``s straight from the captured bytes.  A packet
that is not TCP is counted and dropped without a note; a packet whose headers are cut, inconsistent
or fragmented gets a ``CaptureNote``.  ``payload_len`` comes from the IP length fields, so a packet
cut by the snapshot length keeps its true length and a shorter ``payload``.
"""

from __future__ import annotations

import os
import socket
import struct

from ..spec.errors import OptionError
from ..spec.options import MPTCP_KIND, Dss, MptcpOption, scan_tcp_options
from ..spec.segment import Segment
from .notes import NoteKind, NoteLog

try:
    from ._speedups import Batch
except ImportError:  # installed without a C compiler: the Python decoder takes every packet
    Batch = None  # type: ignore[assignment,misc]

__all__ = ["NO_SPEEDUPS", "PacketDecoder", "speedups_available"]

NO_SPEEDUPS = "MPTCPSPEC_NO_SPEEDUPS"
"""Environment variable: when set to anything but empty, the native fast path is not used."""

_IPV4 = struct.Struct("!2xH2xH4x4s4s")  # total length, flags+fragment offset, source, destination
_IPV4_FAST = struct.Struct("!BxH2xHxB2x4s4s")  # version+IHL, total length, fragment, protocol, addresses
_IPV6 = struct.Struct("!4xHBx16s16s")  # payload length, next header, source, destination
_TCP = struct.Struct("!HHIIBBH")  # ports, seq, ack, data offset, flags, window
_TCP_PROTO = 6
_IPV6_EXTENSIONS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options: (len + 1) * 8
_IPV6_FRAGMENT, _IPV6_AH = 44, 51
_MAX_NAMES = 1 << 16
_MAX_HELD_SYNS = 4096  # plain SYNs of flows not (yet) seen to be MPTCP

_YIELD, _DROP, _HOLD = 0, 1, 2  # what the mptcp_only filter does with a segment

Flow = tuple[str, int, str, int]
"""(source address, port, destination address, port) in text form."""

_Ip = tuple[int, int, int, bytes, bytes]
"""(IP version, offset of the TCP header, end of the IP payload, raw source and destination address)."""


class PacketDecoder:
    """Turns IP packets into Segments for one pass over a capture.

    With ``mptcp_only`` it keeps the set of flows (both directions) in which an MPTCP option has been
    seen and drops every other segment before building it; a flow counts from its first MPTCP option.
    The last plain SYN of each flow is held back (a bounded number of them), and when the answer to it
    carries an MPTCP option the SYN comes out first (``take_held``): an MP_CAPABLE SYN/ACK to a SYN that
    offered no MPTCP is a finding the checker must be able to see.
    ``non_tcp`` counts packets dropped because they carry no TCP.
    """

    def __init__(self, notes: NoteLog, *, mptcp_only: bool = False) -> None:
        self.notes = notes
        self.mptcp_only = mptcp_only
        self.mptcp_flows: set[Flow] = set()
        self._plain_syns: dict[Flow, Segment] = {}
        self._held: Segment | None = None
        self.non_tcp = 0
        self._names: dict[bytes, str] = {}

    def decode(self, frame: int, time: float, data: bytes, off: int) -> Segment | None:
        """The Segment in the IP packet at ``data[off:]``, or None (not TCP, skipped, noted).

        Plain IPv4 (no options, not a fragment) is decoded inline; everything else goes through ``_ip``.
        """
        if len(data) >= off + 40:
            version_ihl, total, fragment, proto, src, dst = _IPV4_FAST.unpack_from(data, off)
            plain = version_ihl == 0x45 and proto == _TCP_PROTO and total >= 40 and not fragment & 0x3FFF
        else:
            plain = False
        if plain:
            version, at, end = 4, off + 20, off + total
        else:
            ip = self._ip(frame, data, off)
            if ip is None:
                return None
            version, at, end, src, dst = ip
            if len(data) < at + 20:
                self._cut(frame, data, -1, at + 20, "TCP header")
                return None
        sport, dport, seq, ack, offset, flags, window = _TCP.unpack_from(data, at)
        header = (offset >> 4) * 4
        if header < 20 or at + header > end or len(data) < at + header:
            self._bad_tcp_header(frame, data, at, end, header)
            return None
        options = data[at + 20 : at + header]
        mptcp: tuple[MptcpOption, ...] = ()
        errors: tuple[OptionError, ...] = ()
        if MPTCP_KIND in options:  # int membership: a cheap pre-check before the real scan
            mptcp, errors = scan_tcp_options(options)
        names = self._names
        src_name = names.get(src) or self._name(src)
        dst_name = names.get(dst) or self._name(dst)
        admit = self._admit((src_name, sport, dst_name, dport), flags, bool(mptcp or errors))
        if admit == _DROP:
            return None
        segment = Segment(frame, time, version, src_name, dst_name, sport, dport, seq, ack, flags, window,
                          end - at - header, data[at + header : end], options, mptcp, errors)  # fmt: skip
        if admit == _HOLD:
            self._hold_syn(segment)
            return None
        return segment

    def admit(self, segment: Segment) -> Segment | None:
        """A Segment decoded elsewhere (the native fast path), through the same ``mptcp_only`` filter."""
        flow = (segment.src, segment.sport, segment.dst, segment.dport)
        admit = self._admit(flow, segment.flags, bool(segment.mptcp or segment.option_errors))
        if admit == _HOLD:
            self._hold_syn(segment)
        return segment if admit == _YIELD else None

    def _admit(self, flow: Flow, flags: int, mptcp: bool) -> int:
        """With ``mptcp_only``: yield, drop or hold (a plain SYN) a segment of ``flow``."""
        if not self.mptcp_only or flow in self.mptcp_flows:
            return _YIELD
        if not mptcp:
            return _HOLD if flags & 0x12 == 0x02 else _DROP
        src, sport, dst, dport = flow
        reverse = (dst, dport, src, sport)
        self.mptcp_flows.update((flow, reverse))
        syn = self._plain_syns.pop(reverse, None)
        if flags & 0x12 == 0x12:
            self._held = syn
        return _YIELD

    def batch_decoder(self) -> Batch | None:
        """The native fast path, sharing this decoder's address names (None when it is not built or
        ``MPTCPSPEC_NO_SPEEDUPS`` is set)."""
        if not speedups_available():
            return None
        return Batch(Segment, Dss, self._names, self._name, scan_tcp_options)

    def take_held(self) -> Segment | None:
        """The plain SYN to yield before the segment just decoded, if its answer made the flow MPTCP."""
        held, self._held = self._held, None
        return held

    def _hold_syn(self, syn: Segment) -> None:
        syns = self._plain_syns
        if len(syns) >= _MAX_HELD_SYNS:
            del syns[next(iter(syns))]
        flow = (syn.src, syn.sport, syn.dst, syn.dport)
        syns.pop(flow, None)
        syns[flow] = syn

    def _ip(self, frame: int, data: bytes, off: int) -> _Ip | None:
        """Any IP header (the general path): IPv4 with options or fragments, IPv6, or not IP at all."""
        version = data[off] >> 4 if len(data) > off else 0
        if version == 4:
            return self._ipv4(frame, data, off)
        if version == 6:
            return self._ipv6(frame, data, off)
        self.non_tcp += 1
        return None

    def _ipv4(self, frame: int, data: bytes, off: int) -> _Ip | None:
        """RFC 791 header: IHL for options, total length, fragments (only a first one is decoded)."""
        if len(data) < off + 20:
            self._cut(frame, data, off + 9, off + 20, "IPv4 header")
            return None
        if data[off + 9] != _TCP_PROTO:
            self.non_tcp += 1
            return None
        ihl = (data[off] & 0x0F) * 4
        total, fragment, src, dst = _IPV4.unpack_from(data, off)
        if ihl < 20 or (total and total < ihl):
            self.notes.add(frame, NoteKind.BAD_IP_HEADER, f"IPv4 header length {ihl}, total length {total}")
            return None
        if fragment & 0x3FFF and not self._first_fragment(frame, fragment & 0x1FFF):
            return None
        if len(data) < off + ihl:
            self._cut(frame, data, -1, off + ihl, "IPv4 options")
            return None
        return 4, off + ihl, off + (total or self._length_zero(frame, data, off)), src, dst

    def _ipv6(self, frame: int, data: bytes, off: int) -> _Ip | None:
        """RFC 8200 header and extension headers (hop-by-hop, routing, destination, fragment, AH)."""
        if len(data) < off + 40:
            self._cut(frame, data, -1, off + 40, "IPv6 header")
            return None
        length, proto, src, dst = _IPV6.unpack_from(data, off)
        end = off + 40 + (length or self._length_zero(frame, data, off + 40))
        at = off + 40
        while proto != _TCP_PROTO:
            if proto not in _IPV6_EXTENSIONS and proto not in (_IPV6_FRAGMENT, _IPV6_AH):
                self.non_tcp += 1
                return None
            if len(data) < at + 8:
                self._cut(frame, data, -1, at + 8, "IPv6 extension header")
                return None
            if proto == _IPV6_FRAGMENT:
                fragment = int.from_bytes(data[at + 2 : at + 4], "big")
                if fragment & 0xFFF9 and not self._first_fragment(frame, fragment >> 3):
                    return None
                size = 8
            else:
                size = (data[at + 1] + 2) * 4 if proto == _IPV6_AH else (data[at + 1] + 1) * 8
            proto = data[at]
            at += size
        return 6, at, end, src, dst

    def _bad_tcp_header(self, frame: int, data: bytes, at: int, end: int, header: int) -> None:
        """Note a TCP data offset below 20 or beyond the IP payload, or options cut by the snaplen."""
        if header < 20 or at + header > end:
            message = f"TCP data offset {header}, {end - at} bytes of IP payload"
            self.notes.add(frame, NoteKind.BAD_TCP_HEADER, message)
        else:
            self._cut(frame, data, -1, at + header, "TCP options")

    def _first_fragment(self, frame: int, offset_units: int) -> bool:
        """Note an IP fragment; True when it is the first one (offset 0), whose TCP header is decoded."""
        if offset_units:
            self.notes.add(
                frame, NoteKind.IP_FRAGMENT, f"IP fragment at offset {offset_units * 8} not decoded"
            )
            return False
        self.notes.add(frame, NoteKind.IP_FRAGMENT, "first IP fragment: its payload length only")
        return True

    def _length_zero(self, frame: int, data: bytes, start: int) -> int:
        """IP length field 0 (TSO/GSO, jumbogram): fall back to what was captured."""
        self.notes.add(frame, NoteKind.IP_LENGTH_ZERO, "IP length 0: captured length used")
        return len(data) - start

    def _cut(self, frame: int, data: bytes, proto_at: int, needed: int, what: str) -> None:
        """Note a header cut by the snapshot length (unless the protocol byte shows it is not TCP)."""
        if 0 <= proto_at < len(data) and data[proto_at] != _TCP_PROTO:
            self.non_tcp += 1
            return
        self.notes.add(frame, NoteKind.HEADER_CUT, f"{what} cut: {len(data)} bytes captured, {needed} needed")

    def _name(self, raw: bytes) -> str:
        """Text form of an address, cached (a capture has few distinct addresses)."""
        name = self._names.get(raw)
        if name is None:
            if len(self._names) >= _MAX_NAMES:
                self._names.clear()
            name = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
            self._names[raw] = name
        return name


def speedups_available() -> bool:
    """Whether the reader uses its native fast path: built at install time and not switched off."""
    return Batch is not None and not os.environ.get(NO_SPEEDUPS)

"""Crafted conversations and raw packets for the capture tests, built with the project's own writer.

``conversation(version)`` is a short MPTCP v1 exchange (MP_CAPABLE handshake, data with DSS both ways,
DATA_FIN) followed by a plain-TCP flow; ``raw_packets`` wraps arbitrary frames as ``Record``s so tests
can write pcapng files holding things the Segment writer cannot express (UDP, ARP, broken headers).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import replace

from mptcpspec.capture.source import Record
from mptcpspec.spec.options import Dss, MpCapable
from mptcpspec.spec.segment import ACK, FIN, PSH, SYN, Segment

__all__ = [
    "ADDRESSES",
    "T0",
    "as_records",
    "conversation",
    "expected",
    "ipv4_with_options",
    "observed",
    "pcapng_block",
    "pcapng_idb",
    "pcapng_shb",
    "tsresol_option",
    "udp_packet",
]

T0 = 1_700_000_000.25
ADDRESSES = {4: ("10.232.7.1", "10.232.7.2"), 6: ("fd00:232::1", "fd00:232::2")}
_KEY_A, _KEY_B = 0x1122334455667788, 0x99AABBCCDDEEFF00


def conversation(version: int = 4) -> list[Segment]:
    """Eight segments: an MPTCP connection (handshake, data each way, DATA_FIN) and a plain-TCP SYN."""
    a, b = ADDRESSES[version]

    def seg(
        index: int, forward: bool, flags: int, seq: int, ack: int, data: bytes, *options: object
    ) -> Segment:
        src, dst, sport, dport = (a, b, 40001, 5201) if forward else (b, a, 5201, 40001)
        return Segment(0, T0 + index * 0.001, version, src, dst, sport, dport, seq, ack, flags, 64000,
                       len(data), data, mptcp=options)  # type: ignore[arg-type]  # fmt: skip

    return [
        seg(0, True, SYN, 1000, 0, b"", MpCapable(1, 0x81)),
        seg(1, False, SYN | ACK, 5000, 1001, b"", MpCapable(1, 0x81, sender_key=_KEY_B)),
        seg(2, True, ACK, 1001, 5001, b"", MpCapable(1, 0x81, sender_key=_KEY_A, receiver_key=_KEY_B)),
        seg(3, True, ACK | PSH, 1001, 5001, b"hello mptcp", Dss(7, dsn=1, ssn=1, data_level_length=11)),
        seg(4, False, ACK | PSH, 5001, 1012, b"ok", Dss(12, dsn=7, ssn=1, data_level_length=2)),
        seg(5, True, ACK | FIN, 1012, 5003, b"", Dss(9, dsn=12, ssn=0, data_level_length=1, data_fin=True)),
        seg(6, False, ACK, 5003, 1013, b""),
        replace(seg(7, True, SYN, 77, 0, b""), sport=40002, dport=80),
    ]


def _view(frame: int, s: Segment) -> tuple[object, ...]:
    """Every field but the raw option bytes (the writer pads them), time to the microsecond."""
    wire = (s.ip_version, s.src, s.dst, s.sport, s.dport, s.seq, s.ack, s.flags, s.window, s.payload_len)
    return (frame, round(s.time, 6), *wire, s.payload, s.mptcp, s.option_errors)


def expected(segments: Sequence[Segment]) -> list[tuple[object, ...]]:
    """What the reader must give back for written ``segments`` (numbered from frame 1)."""
    return [_view(frame, s) for frame, s in enumerate(segments, start=1)]


def observed(segments: Iterable[Segment]) -> list[tuple[object, ...]]:
    """The same view of segments read from a capture."""
    return [_view(s.frame, s) for s in segments]


def as_records(frames: Sequence[bytes], linktype: int, *, interface: int = 0) -> list[Record]:
    """Wrap link-layer ``frames`` as records 1 ms apart, for ``write_pcapng``."""
    return [
        Record(index + 1, int(T0 * 1e9) + index * 1_000_000, interface, linktype, frame, len(frame))
        for index, frame in enumerate(frames)
    ]


def udp_packet() -> bytes:
    """A minimal IPv4/UDP packet (not TCP: counted, never noted)."""
    return struct.pack("!BBHHHBBH4s4sHHHH", 0x45, 0, 28, 0, 0, 64, 17, 0, bytes(4), bytes(4), 1, 9, 8, 0)


def ipv4_with_options(packet: bytes, options: bytes) -> bytes:
    """Insert IP ``options`` (a multiple of 4 bytes) into an IPv4 ``packet``, fixing IHL and length."""
    total = struct.unpack_from("!H", packet, 2)[0] + len(options)
    head = bytes([0x40 | (5 + len(options) // 4), packet[1]]) + struct.pack("!H", total) + packet[4:20]
    return head + options + packet[20:]


def pcapng_block(block_type: int, body: bytes, order: str = "<") -> bytes:
    """One pcapng block: type, length, ``body`` padded to 4 bytes, length again."""
    body += b"\x00" * (-len(body) % 4)
    return (
        struct.pack(order + "II", block_type, len(body) + 12)
        + body
        + struct.pack(order + "I", len(body) + 12)
    )


def pcapng_shb(order: str = "<") -> bytes:
    """A Section Header Block in byte order ``order``."""
    return pcapng_block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)


def pcapng_idb(linktype: int, options: bytes = b"", order: str = "<", snaplen: int = 0) -> bytes:
    """An Interface Description Block with raw ``options``."""
    return pcapng_block(1, struct.pack(order + "HHI", linktype, 0, snaplen) + options, order)


def tsresol_option(value: int, order: str = "<") -> bytes:
    """The ``if_tsresol`` option: 10^-value seconds, or 2^-(value & 0x7f) with the high bit."""
    return struct.pack(order + "HHB3x", 9, 1, value)

"""Wire-level pieces of the conversation builder: TCP option layout, payload pattern, per-subflow state.

Internal to ``mptcpspec.conformance.conversation``.  The TCP options imitate Linux: a SYN or SYN/ACK
carries MSS, SACK-permitted, timestamps, NOP and window scale (20 bytes); every later segment carries
NOP, NOP, timestamps (12 bytes); each MPTCP option follows, padded with NOPs to a multiple of 4
(RFC 8684 Appendix A: the whole options field is at most 40 bytes).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..spec.errors import LocalProtocolError
from ..spec.options import MptcpOption, serialize

__all__ = [
    "MAX_OPTIONS",
    "Half",
    "Reassembly",
    "Side",
    "Stream",
    "Subflow",
    "assemble_options",
    "base_options",
    "chunks",
    "pattern",
    "peer",
]

Side = Literal["A", "B"]
"""A is the initiator (client), B the listener (server)."""

MAX_OPTIONS = 40
_NOP = b"\x01"
_WSCALE = 7


def peer(side: Side) -> Side:
    """The other endpoint."""
    return "B" if side == "A" else "A"


def base_options(*, syn: bool, mss: int, tsval: int, tsecr: int, timestamps: bool) -> bytes:
    """The non-MPTCP TCP options of one segment, already a multiple of 4 bytes long."""
    ts = struct.pack("!BBII", 8, 10, tsval & 0xFFFFFFFF, tsecr & 0xFFFFFFFF) if timestamps else b""
    if not syn:
        return _NOP * 2 + ts if ts else b""
    sack_ts = struct.pack("!BB", 4, 2) + ts if ts else _NOP * 2 + struct.pack("!BB", 4, 2)
    return struct.pack("!BBH", 2, 4, mss) + sack_ts + _NOP + struct.pack("!BBB", 3, 3, _WSCALE)


def assemble_options(base: bytes, options: Iterable[MptcpOption], *, check: bool = True) -> bytes:
    """``base`` followed by each serialized MPTCP option padded with NOPs to a multiple of 4.

    With ``check`` a field longer than 40 bytes is a ``LocalProtocolError`` (RFC 8684 Appendix A).
    """
    raw = bytearray(base)
    for option in options:
        wire = serialize(option)
        raw += wire + _NOP * (-len(wire) % 4)
    if check and len(raw) > MAX_OPTIONS:
        raise LocalProtocolError(
            f"TCP options need {len(raw)} bytes, at most {MAX_OPTIONS} fit", section="Appendix A"
        )
    return bytes(raw)


_CYCLES: dict[Side, bytes] = {
    "A": bytes(i * 13 & 0xFF for i in range(256)),
    "B": bytes((i * 13 + 101) & 0xFF for i in range(256)),
}


def pattern(side: Side, offset: int, length: int) -> bytes:
    """Deterministic payload: the bytes at data-stream ``offset`` (0 = first byte after the IDSN).

    Byte ``k`` of A's stream is ``13 k mod 256`` (B's is offset by 101), so the same offset always gives
    the same byte and reinjections and retransmissions carry the same data.
    """
    cycle = _CYCLES[side]
    start = offset % len(cycle)
    return (cycle[start:] + cycle * (length // len(cycle) + 1))[:length]


@dataclass(slots=True)
class Reassembly:
    """What a receiver holds of one sequence space: ``nxt`` (next in-order number) and holes above it."""

    nxt: int
    pending: list[tuple[int, int]] = field(default_factory=list)

    def add(self, start: int, end: int) -> None:
        """Record that ``[start, end)`` arrived; advance ``nxt`` over every contiguous range."""
        if end <= start:
            return
        self.pending.append((start, end))
        self.pending.sort()
        rest: list[tuple[int, int]] = []
        for low, high in self.pending:
            if low <= self.nxt:
                self.nxt = max(self.nxt, high)
            else:
                rest.append((low, high))
        self.pending = rest


@dataclass(slots=True)
class Half:
    """One direction of one subflow, named by its sender.

    ``isn`` is the initial sequence number, ``nxt`` the next sequence number to send (both unbounded
    integers; segments carry them modulo 2**32), ``received`` what the peer got of this direction,
    ``ts_base`` the timestamp clock's offset,
    ``tsval`` the last timestamp value sent, ``fin`` whether a FIN was sent.
    """

    isn: int
    nxt: int
    received: Reassembly
    ts_base: int
    tsval: int = 0
    fin: bool = False


@dataclass(slots=True)
class Stream:
    """The data-level stream one side sends: its IDSN, the next new DSN, what the peer received of it
    (the peer's DATA_ACK is ``received.nxt``) and the DSN of its DATA_FIN once sent (RFC 8684 §3.3)."""

    idsn: int
    nxt: int
    received: Reassembly
    fin: int | None = None

    def offset(self, dsn: int) -> int:
        """Position of ``dsn`` in the byte stream (0 for the first byte, IDSN + 1)."""
        return dsn - self.idsn - 1


@dataclass(slots=True)
class Subflow:
    """One subflow: addresses and ports per side, address IDs, both halves, whether it is closed."""

    index: int
    address: dict[Side, str]
    port: dict[Side, int]
    address_id: dict[Side, int]
    half: dict[Side, Half]
    backup: dict[Side, bool]
    ip_version: int
    closed: bool = False

    def ssn(self, side: Side, seq: int) -> int:
        """Relative subflow sequence number of ``seq`` in the direction sent by ``side`` (RFC 8684 §3.3.1)."""
        return seq - self.half[side].isn


def chunks(total: int, size: int) -> Sequence[tuple[int, int]]:
    """Split ``total`` bytes into ``(offset, length)`` pieces of at most ``size`` bytes."""
    return [(offset, min(size, total - offset)) for offset in range(0, total, size)]

"""The data sequence model of one direction: DSS mappings, DATA_ACK, DATA_FIN, reinjection (RFC 8684 §3.3).

``DataDirection`` follows the data one host sends: the 64-bit DSNs it mapped (32-bit DSNs promoted
with ``seqnum.infer_dsn64`` near the highest DSN seen, or near the IDSN), the payload bytes per DSN
while they may still be retransmitted (to check that reinjected data is the same data), its DATA_FIN,
and the DATA_ACKs the other host sent for it.  Sound by construction: a check whose evidence the
capture may lack (payload cut by snaplen, packets missed, subflows not captured) is undetermined.

The guards are small pure functions (``check_mapping_consistent`` ...).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from . import crypto
from .rules import Level, Rule

__all__ = [
    "DATA_ACK_BEFORE_IDSN",
    "DATA_ACK_BEYOND_SENT",
    "DATA_FIN_BARE_MAPPING",
    "DATA_FIN_CONSISTENT",
    "DATA_FIN_DATA_AFTER",
    "DSS_ACK_WIDTH",
    "DSS_BEFORE_IDSN",
    "DSS_CHECKSUM",
    "DSS_CHECKSUM_MISSING",
    "DSS_CHECKSUM_UNNEGOTIATED",
    "DSS_DATA_CONSISTENT",
    "DSS_MAPPING_CONSISTENT",
    "DSS_RESERVED_FLAGS",
    "DSS_SSN_ZERO",
    "DSS_URGENT",
    "MAX_STORED_BYTES",
    "RULES",
    "DataDirection",
    "check_checksum",
    "check_data_consistent",
    "check_mapping_consistent",
    "relative",
]

DSS_CHECKSUM = Rule(
    "dss.checksum",
    8684,
    "3.3.1",
    Level.MUST,
    "The DSS checksum matches the mapped data and its pseudo-header.",
)
DSS_CHECKSUM_MISSING = Rule(
    "dss.checksum-missing",
    8684,
    "3.3.1",
    Level.MUST,
    "When checksums were negotiated, every mapping carries a checksum.",
)
DSS_CHECKSUM_UNNEGOTIATED = Rule(
    "dss.checksum-unnegotiated",
    8684,
    "3.3.1",
    Level.MUST,
    "When checksums were not negotiated, mappings carry no checksum.",
)
DSS_MAPPING_CONSISTENT = Rule(
    "dss.mapping-consistent",
    8684,
    "3.3.1",
    Level.MUST,
    "Once subflow bytes are mapped to data sequence numbers, later mappings of them agree.",
)
DSS_DATA_CONSISTENT = Rule(
    "dss.data-consistent",
    8684,
    "3.3.6",
    Level.MUST,
    "Data sent again for the same DSNs (retransmission or reinjection) is the same data.",
)
DSS_BEFORE_IDSN = Rule(
    "dss.before-idsn",
    8684,
    "3.3.1",
    Level.MUST,
    "Mapped data starts after the sender's initial data sequence number (the first byte is IDSN+1).",
)
DSS_ACK_WIDTH = Rule(
    "dss.ack-width",
    8684,
    "3.3.2",
    Level.MUST,
    "Data received with 64-bit DSNs only is acknowledged with a 64-bit DATA_ACK.",
)
DSS_SSN_ZERO = Rule(
    "dss.ssn-zero",
    8684,
    "3.3.3",
    Level.MUST,
    "Subflow sequence number 0 is only used by the mapping of a DATA_FIN without data.",
)
DSS_URGENT = Rule(
    "dss.urgent",
    8684,
    "3.3.1",
    Level.MUST,
    "With checksums in use, a subflow does not use the urgent pointer inside a mapping.",
)
DSS_RESERVED_FLAGS = Rule(
    "dss.reserved-flags",
    8684,
    "3.3",
    Level.MUST,
    "The reserved bits of the DSS option are sent as zero.",
)
DATA_ACK_BEYOND_SENT = Rule(
    "data-ack.beyond-sent",
    8684,
    "3.3.2",
    Level.MUST,
    "A DATA_ACK acknowledges only data (and a DATA_FIN) that the other host has sent.",
)
DATA_ACK_BEFORE_IDSN = Rule(
    "data-ack.before-idsn",
    8684,
    "3.3.2",
    Level.MUST,
    "A DATA_ACK is never below the peer's IDSN+1, the first data sequence number.",
)
DATA_FIN_CONSISTENT = Rule(
    "data-fin.consistent",
    8684,
    "3.3.3",
    Level.MUST,
    "Every DATA_FIN a host sends on a connection marks the same data sequence number.",
)
DATA_FIN_DATA_AFTER = Rule(
    "data-fin.data-after",
    8684,
    "3.3.3",
    Level.MUST,
    "No data is mapped beyond the sender's DATA_FIN.",
)
DATA_FIN_BARE_MAPPING = Rule(
    "data-fin.bare-mapping",
    8684,
    "3.3.3",
    Level.MUST,
    "A DATA_FIN on a segment without data uses subflow sequence number 0 and data-level length 1.",
)

RULES = (
    DSS_CHECKSUM,
    DSS_CHECKSUM_MISSING,
    DSS_CHECKSUM_UNNEGOTIATED,
    DSS_MAPPING_CONSISTENT,
    DSS_DATA_CONSISTENT,
    DSS_BEFORE_IDSN,
    DSS_ACK_WIDTH,
    DSS_SSN_ZERO,
    DSS_URGENT,
    DSS_RESERVED_FLAGS,
    DATA_ACK_BEYOND_SENT,
    DATA_ACK_BEFORE_IDSN,
    DATA_FIN_CONSISTENT,
    DATA_FIN_DATA_AFTER,
    DATA_FIN_BARE_MAPPING,
)

MASK64 = (1 << 64) - 1
HALF64 = 1 << 63
MAX_STORED_BYTES = 4 << 20
"""Payload kept per direction for ``dss.data-consistent``; older bytes are forgotten first."""


_SENT_RANGES = 64  # disjoint ranges of sent data kept per direction


def relative(value: int, base: int) -> int:
    """Signed 64-bit distance from ``base`` to ``value``."""
    return ((value - base + HALF64) & MASK64) - HALF64


def check_mapping_consistent(offset_a: int, offset_b: int) -> bool:
    """``dss.mapping-consistent``: two overlapping mappings bind SSNs to DSNs with the same offset."""
    return (offset_a - offset_b) & 0xFFFFFFFF == 0


def check_data_consistent(first: bytes, again: bytes) -> bool:
    """``dss.data-consistent``: bytes sent again for the same DSNs equal the first ones (RFC 8684 §3.3.6)."""
    return first == again


def check_checksum(dsn: int, ssn: int, length: int, payload: bytes, checksum: int) -> bool:
    """``dss.checksum``: the checksum over the pseudo-header and the mapped payload (RFC 8684 §3.3.1)."""
    return crypto.dss_checksum_ok(dsn, ssn, length, payload, checksum)


class DataDirection:
    """The data-level view of one sending host.

    ``idsn`` is the sender's IDSN when its key is known.  ``top`` is the highest DSN end mapped so far
    (64-bit), ``base`` the first DSN of the data (IDSN+1, or the first DSN seen in a capture that started
    late).  ``fin`` is the DSN of its first DATA_FIN (``fin_max`` the highest one announced),
    ``acked`` the highest DATA_ACK the other host sent.
    ``wide_only`` stays True while every mapping of data used a 64-bit DSN.  ``sent_starts`` and
    ``sent_ends`` are the disjoint ranges of data mapped so far, as offsets from ``base``: data on
    parallel subflows interleaves, so "below the highest DSN" does not mean "sent again".
    """

    __slots__ = (
        "ack_seen",
        "acked",
        "base",
        "chunk_data",
        "chunk_starts",
        "fin",
        "fin_frame",
        "fin_max",
        "idsn",
        "name",
        "sent_ends",
        "sent_starts",
        "stored",
        "top",
        "wide_only",
        "wide_seen",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.idsn: int | None = None
        self.base: int | None = None
        self.top: int | None = None
        self.fin: int | None = None
        self.fin_frame = 0
        self.fin_max = 0
        self.acked: int | None = None
        self.ack_seen: tuple[int, bool, int] | None = None
        self.wide_only = True
        self.wide_seen = False
        self.chunk_starts: list[int] = []
        self.chunk_data: list[bytes] = []
        self.stored = 0
        self.sent_starts: list[int] = []
        self.sent_ends: list[int] = []

    def set_idsn(self, idsn: int) -> None:
        """The sender's IDSN became known: the first data byte is IDSN+1 (RFC 8684 §3.1)."""
        self.idsn = idsn
        if self.base is None:
            self.base = (idsn + 1) & MASK64

    def expand(self, value: int, wide: bool) -> int:
        """A DSN or DATA_ACK of this direction as a 64-bit number (RFC 8684 §3.3), inferred near the
        highest DSN mapped, else the first, else the DATA_FIN (a capture that starts late may show the
        DATA_FIN before any data); as it came when the capture shows none of them."""
        if wide:
            return value
        near = self.top if self.top is not None else self.base if self.base is not None else self.fin
        if near is None:
            return value
        return (near + ((value - near + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)) & MASK64

    def data_bytes(self) -> int:
        """Data-level bytes sent (the span from the first DSN to the highest, without the DATA_FIN)."""
        if self.base is None or self.top is None:
            return 0
        span = relative(self.top, self.base)
        if self.fin is not None and relative(self.top, self.fin) > 0:
            span -= 1
        return max(span, 0)

    def advance(self, start: int, end: int) -> bool:
        """Record the mapped range [start, end); True when part of it was mapped before (sent again)."""
        base = self.base
        if base is None:
            base = self.base = start
        top = self.top
        if top is None or 0 < (end - top) & MASK64 < HALF64:
            self.top = end
        # relative(start, base) and relative(end, base), written out: this runs once per data segment
        lo = ((start - base + HALF64) & MASK64) - HALF64
        hi = ((end - base + HALF64) & MASK64) - HALF64
        ends = self.sent_ends
        if ends and lo == ends[-1] and lo < hi:  # the usual case: right after the last data sent
            ends[-1] = hi
            return False
        return self._mark_sent(lo, hi)

    def _mark_sent(self, lo: int, hi: int) -> bool:
        """Add [lo, hi) to the ranges sent; True when it overlaps one of them.  Past ``_SENT_RANGES``
        ranges the two lowest merge, so a late first sending of that gap reads as sent again: that only
        ever makes a check undetermined or a graph point a reinjection, never a violation."""
        starts, ends = self.sent_starts, self.sent_ends
        if lo >= hi:
            return False
        if not ends or lo > ends[-1]:  # the usual case: new data beyond everything sent
            starts.append(lo)
            ends.append(hi)
        elif lo == ends[-1]:
            ends[-1] = hi
        else:
            i = j = bisect_left(ends, lo)
            overlap = False
            while j < len(starts) and starts[j] <= hi:
                overlap = overlap or (starts[j] < hi and ends[j] > lo)
                lo, hi = min(lo, starts[j]), max(hi, ends[j])
                j += 1
            starts[i:j], ends[i:j] = [lo], [hi]
            if overlap:
                return True
        if len(starts) > _SENT_RANGES:
            del starts[1], ends[0]
        return False

    def stored_overlap(self, dsn: int, payload: bytes) -> tuple[int, bytes, bytes] | None:
        """The first stored chunk overlapping ``payload`` at ``dsn`` whose bytes differ, as
        (dsn of the difference, stored bytes, new bytes), or None when every overlap agrees."""
        starts = self.chunk_starts
        i = bisect_right(starts, dsn) - 1
        if i < 0:
            i = 0
        end = dsn + len(payload)
        while i < len(starts) and starts[i] < end:
            chunk_start = starts[i]
            chunk = self.chunk_data[i]
            lo = max(chunk_start, dsn)
            hi = min(chunk_start + len(chunk), end)
            if lo < hi:
                first = chunk[lo - chunk_start : hi - chunk_start]
                again = payload[lo - dsn : hi - dsn]
                if not check_data_consistent(first, again):
                    k = next(i for i, (x, y) in enumerate(zip(first, again, strict=True)) if x != y)
                    return lo + k, first[k:], again[k:]
            i += 1
        return None

    def store(self, dsn: int, payload: bytes) -> None:
        """Keep ``payload`` sent at ``dsn`` for later comparison with retransmissions."""
        starts = self.chunk_starts
        if starts and dsn <= starts[-1]:
            if dsn == starts[-1]:
                return
            i = bisect_right(starts, dsn)
            starts.insert(i, dsn)
            self.chunk_data.insert(i, payload)
        else:
            starts.append(dsn)
            self.chunk_data.append(payload)
        self.stored += len(payload)
        while self.stored > MAX_STORED_BYTES and starts:
            self._drop_first()

    def forget_below(self, dsn: int) -> None:
        """Drop stored payload wholly below ``dsn`` (DATA_ACKed data is not reinjected any more)."""
        starts = self.chunk_starts
        while starts and starts[0] + len(self.chunk_data[0]) <= dsn:
            self._drop_first()

    def forget(self, start: int, end: int) -> None:
        """Drop stored payload overlapping [start, end): bytes a failed DSS checksum shows were changed
        on the way, so later copies are not compared with them."""
        keep = [
            (d, c)
            for d, c in zip(self.chunk_starts, self.chunk_data, strict=True)
            if not start < d + len(c) or not d < end
        ]
        self.chunk_starts = [d for d, _ in keep]
        self.chunk_data = [c for _, c in keep]
        self.stored = sum(len(c) for c in self.chunk_data)

    def _drop_first(self) -> None:
        self.chunk_starts.pop(0)
        self.stored -= len(self.chunk_data.pop(0))

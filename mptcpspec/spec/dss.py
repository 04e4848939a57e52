"""The DSS procedures: what one DSS option (or the data of an MP_CAPABLE) does to the data model.

``on_mapping`` checks a new data sequence mapping against the negotiation (checksum present or not), the
sender's IDSN, its DATA_FIN and the earlier mappings of the same subflow bytes, then follows the
segment's own bytes (reinjected data must be the same data; checksums when the mapping's payload is in
the capture).  ``on_data_ack`` checks a DATA_ACK against what the other host is known to have sent.
RFC 8684 §3.3; the decisions are the pure guards of ``mapping``.
"""

from __future__ import annotations

from typing import Protocol

from .checksums import ChecksumFailure
from .connection import CloseEvent, Connection
from .context import HOSTS, Context
from .events import Observer
from .mapping import (
    DATA_ACK_BEFORE_IDSN,
    DATA_ACK_BEYOND_SENT,
    DATA_FIN_BARE_MAPPING,
    DATA_FIN_CONSISTENT,
    DATA_FIN_DATA_AFTER,
    DSS_ACK_WIDTH,
    DSS_BEFORE_IDSN,
    DSS_CHECKSUM,
    DSS_CHECKSUM_MISSING,
    DSS_CHECKSUM_UNNEGOTIATED,
    DSS_DATA_CONSISTENT,
    DSS_MAPPING_CONSISTENT,
    DSS_SSN_ZERO,
    MASK64,
    DataDirection,
    check_checksum,
    check_mapping_consistent,
    relative,
)
from .segment import SYN, Segment
from .subflow import Mapping, Subflow
from .verdicts import Judge

__all__ = [
    "DataContext",
    "Mapping",
    "on_data_ack",
    "on_mapped_segment",
    "on_mapping",
    "on_payload_without_mapping",
]

_KEPT_MAPPINGS = 32


class DataContext(Context, Protocol):
    """What the DSS procedures see of the monitor."""

    @property
    def data(self) -> tuple[DataDirection, DataDirection]: ...

    def lossy(self, h: int) -> bool: ...

    def close_event(self, host: int, event: CloseEvent, frame: int) -> None: ...

    def data_event(self, seg: Segment, sub: Subflow, h: int, dsn: int, length: int, kind: str) -> None: ...

    @property
    def observer(self) -> Observer | None: ...

    @property
    def checksum_failures(self) -> list[ChecksumFailure]: ...


def on_mapping(m: DataContext, seg: Segment, sub: Subflow, h: int, mp: Mapping) -> None:
    """A new mapping sent by host ``h`` on ``sub`` (RFC 8684 §3.3.1), not the same as this subflow
    direction's last one; ``on_mapped_segment`` then follows the segment's own bytes."""
    _checksum_presence(m.judge, m.conn, seg, sub, mp)
    _new_mapping(m, seg, sub, h, mp, mp.length - 1 if mp.fin else mp.length)


def on_mapped_segment(m: DataContext, seg: Segment, sub: Subflow, h: int, mp: Mapping) -> None:
    """The bytes of a segment that carries (or continues) mapping ``mp`` of host ``h``: placed at their
    DSNs, compared when sent again, checksummed; a DATA_FIN without data has its checksum checked."""
    data_len = mp.length - 1 if mp.fin else mp.length
    if not seg.payload_len:
        if mp.checksum is not None and data_len == 0 and m.conn.checksums:
            _bare_data_fin_checksum(m.judge, seg, sub, mp)
        return
    isn = sub.isn[h]
    rel = None if isn is None else (seg.seq - isn) & 0xFFFFFFFF  # sub.relative_seq, once per data segment
    if rel is None:
        if not mp.ssn and data_len:
            return
        rel = mp.ssn if seg.payload_len == data_len else None
        if rel is None:
            return
    offset = (rel - mp.ssn) & 0xFFFFFFFF
    if offset >= data_len:
        return
    dsn = (mp.dsn + offset) & MASK64
    # Only the bytes this mapping covers: a segment coalesced on receive (GRO) may carry more.
    length = seg.payload_len if seg.payload_len < data_len - offset else data_len - offset
    resent = m.data[h].advance(dsn, (dsn + length) & MASK64)
    if m.observer is not None:
        m.data_event(seg, sub, h, dsn, length, "reinjection" if resent else "data")
    complete = len(seg.payload) >= seg.payload_len
    if resent:
        _sent_again(m, seg, sub, h, mp, dsn, seg.payload[:length] if complete else None)
    if complete:
        m.data[h].store(dsn, seg.payload[:length])
    if mp.checksum is not None and m.conn.checksums:
        _checksum(m, seg, sub, h, mp, data_len, offset)


def _bare_data_fin_checksum(judge: Judge, seg: Segment, sub: Subflow, mp: Mapping) -> None:
    assert mp.checksum is not None
    judge.checks += 1
    if not check_checksum(mp.dsn, mp.ssn, mp.length, b"", mp.checksum):
        judge.breach(
            DSS_CHECKSUM,
            (seg.frame,),
            f"DATA_FIN checksum {mp.checksum:#06x} does not match its pseudo-header",
            sub.name,
        )


def on_payload_without_mapping(m: DataContext, seg: Segment, sub: Subflow, h: int) -> None:
    """Payload on a segment that carries no mapping: the bytes of this subflow direction's current
    mapping, which may cover several segments (RFC 8684 §3.3.1).  Placed only when the subflow's ISN is
    known; bytes outside the mapping are left alone."""
    mp = sub.mapping[h]
    if mp is None or sub.relative_seq(h, seg.seq) is None:
        return
    on_mapped_segment(m, seg, sub, h, mp)


def _checksum_presence(judge: Judge, conn: Connection, seg: Segment, sub: Subflow, mp: Mapping) -> None:
    if conn.checksums is None:
        return
    judge.checks += 1
    if conn.checksums and mp.checksum is None:
        judge.breach(
            DSS_CHECKSUM_MISSING,
            (seg.frame,),
            f"mapping DSN {mp.dsn:#x} has no checksum though checksums were negotiated",
            sub.name,
        )
    elif not conn.checksums and mp.checksum is not None:
        judge.breach(
            DSS_CHECKSUM_UNNEGOTIATED,
            (seg.frame,),
            f"mapping DSN {mp.dsn:#x} carries checksum {mp.checksum:#06x} though checksums were not "
            "negotiated",
            sub.name,
        )


def _new_mapping(m: DataContext, seg: Segment, sub: Subflow, h: int, mp: Mapping, data_len: int) -> None:
    judge, flow = m.judge, m.data[h]
    frames = (seg.frame,)
    judge.checks += 3
    if flow.idsn is not None and relative(mp.dsn, flow.idsn) < 1:
        judge.breach(
            DSS_BEFORE_IDSN,
            frames,
            f"mapping starts at DSN {mp.dsn:#x}, at or before {HOSTS[h]}'s "
            f"IDSN {flow.idsn:#x} (expected at least IDSN+1)",
            sub.name,
        )
    if mp.ssn == 0 and not (mp.fin and mp.length == 1):
        judge.breach(
            DSS_SSN_ZERO,
            frames,
            f"mapping of {mp.length} byte(s) at subflow sequence number 0 (only a bare DATA_FIN uses SSN 0)",
            sub.name,
        )
    if mp.fin and not seg.payload_len and not seg.flags & SYN and (mp.ssn, mp.length) != (0, 1):
        judge.breach(
            DATA_FIN_BARE_MAPPING,
            frames,
            f"DATA_FIN without data maps SSN {mp.ssn} length {mp.length} (expected SSN 0, length 1)",
            sub.name,
        )
    if mp.fin:
        _data_fin(m, seg, sub, h, (mp.dsn + data_len) & MASK64)
    if flow.fin is not None and data_len and relative((mp.dsn + data_len) & MASK64, flow.fin) > 0:
        judge.breach(
            DATA_FIN_DATA_AFTER,
            (seg.frame, flow.fin_frame),
            f"data mapped up to DSN {(mp.dsn + data_len) & MASK64:#x}, beyond {HOSTS[h]}'s DATA_FIN at "
            f"{flow.fin:#x}",
            sub.name,
        )
    if data_len and mp.ssn:
        _consistent(judge, seg, sub, h, mp, data_len)


def _data_fin(m: DataContext, seg: Segment, sub: Subflow, h: int, fin_dsn: int) -> None:
    flow = m.data[h]
    if flow.fin is None:
        flow.fin = flow.fin_max = fin_dsn
        flow.fin_frame = seg.frame
        m.close_event(h, CloseEvent.SEND_DATA_FIN, seg.frame)
        m.close_event(1 - h, CloseEvent.RECV_DATA_FIN, seg.frame)
        return
    m.judge.checks += 1
    if relative(fin_dsn, flow.fin_max) > 0:
        flow.fin_max = fin_dsn
    if flow.fin != fin_dsn:
        m.judge.breach(
            DATA_FIN_CONSISTENT,
            (seg.frame, flow.fin_frame),
            f"DATA_FIN at DSN {fin_dsn:#x} (the DATA_FIN at frame {flow.fin_frame} was at {flow.fin:#x})",
            sub.name,
        )


def _consistent(judge: Judge, seg: Segment, sub: Subflow, h: int, mp: Mapping, data_len: int) -> None:
    """``dss.mapping-consistent`` against the earlier mappings of this subflow direction.  A mapping found
    inconsistent is not kept: the earlier binding stays the reference, so its next correct copy passes."""
    kept = sub.mappings[h]
    top = sub.map_top[h]
    start, end = mp.ssn, mp.ssn + data_len
    offset = mp.dsn - mp.ssn
    if top is not None and start < top:
        judge.checks += 1
        for old_start, old_end, old_offset, frame in kept:
            if old_start < end and start < old_end and not check_mapping_consistent(offset, old_offset):
                judge.breach(
                    DSS_MAPPING_CONSISTENT,
                    (seg.frame, frame),
                    f"SSN {max(start, old_start)} maps to DSN {(max(start, old_start) + offset) & MASK64:#x} "
                    f"(frame {frame} mapped it to {(max(start, old_start) + old_offset) & MASK64:#x})",
                    sub.name,
                )
                return
    kept.append((start, end, offset, seg.frame))
    if len(kept) > _KEPT_MAPPINGS:
        del kept[0]
    if top is None or end > top:
        sub.map_top[h] = end


def _sent_again(
    m: DataContext, seg: Segment, sub: Subflow, h: int, mp: Mapping, dsn: int, payload: bytes | None
) -> None:
    """``dss.data-consistent`` for bytes at ``dsn`` mapped before: compared with what was stored, or
    undetermined when the capture cut them (``payload`` None)."""
    judge = m.judge
    judge.checks += 1
    if payload is None:
        judge.undetermined(
            DSS_DATA_CONSISTENT,
            (seg.frame,),
            "data sent again was not compared: the capture cut its payload (snaplen)",
            sub.name,
        )
        return
    diff = m.data[h].stored_overlap(dsn, payload)
    if diff is None:
        return
    at, first, again = diff
    message = f"bytes at DSN {at:#x} sent again as {again[:8].hex()} (first sent as {first[:8].hex()})"
    if mp.checksum is not None and m.conn.checksums:
        # A middlebox may have changed either copy: the mapping's checksum decides.
        sub.mismatch[h] = ((mp.ssn, mp.dsn, mp.length), seg.frame, message)
    else:
        judge.breach(DSS_DATA_CONSISTENT, (seg.frame,), message, sub.name)


def _checksum(
    m: DataContext, seg: Segment, sub: Subflow, h: int, mp: Mapping, data_len: int, offset: int
) -> None:
    """``dss.checksum`` once the whole mapped payload has been seen on this subflow (RFC 8684 §3.3.1).

    A mismatch is judged by the monitor later: the receiver's MP_FAIL shows the data was changed on
    the way (a middlebox), which is what checksums are for, not a fault of the sender.
    """
    assert mp.checksum is not None
    judge = m.judge
    if not seg.payload_complete:
        sub.csum[h] = None
        judge.undetermined(
            DSS_CHECKSUM,
            (seg.frame,),
            "DSS checksum not verified: the capture cut the payload (snaplen)",
            sub.name,
        )
        return
    key = (mp.ssn, mp.dsn, mp.length)
    if offset == 0:
        acc = bytearray(seg.payload[: min(seg.payload_len, data_len)])
        sums = {mp.checksum: seg.frame}
        sub.csum[h] = (key, acc, sums)
    else:
        pending = sub.csum[h]
        if pending is None or pending[0] != key or len(pending[1]) != offset:
            return
        _, acc, sums = pending
        acc += seg.payload[: min(seg.payload_len, data_len - offset)]
        sums.setdefault(mp.checksum, seg.frame)
    if len(acc) < data_len:
        return
    sub.csum[h] = None
    mismatch, sub.mismatch[h] = sub.mismatch[h], None
    # Every copy of the mapping is judged: a receiver installs the first one it gets (RFC 8684 §3.3.1).
    for checksum, frame in sums.items():
        judge.checks += 1
        if not check_checksum(mp.dsn, mp.ssn, mp.length, bytes(acc), checksum):
            m.data[h].forget(mp.dsn, (mp.dsn + data_len) & MASK64)
            carried = f" (the copy at frame {frame})" if frame != seg.frame else ""
            message = (
                f"DSS checksum {checksum:#06x}{carried} does not match the {data_len} mapped bytes "
                f"at DSN {mp.dsn:#x}"
            )
            m.checksum_failures.append(
                ChecksumFailure(h, seg.frame, sub.name, message, (mp.dsn + data_len) & MASK64)
            )
            return
    if mismatch is not None and mismatch[0] == key:  # the copy sent again is what its sender checksummed
        judge.breach(DSS_DATA_CONSISTENT, (mismatch[1],), mismatch[2], sub.name)


def on_data_ack(m: DataContext, seg: Segment, sub: Subflow, h: int, value: int, wide: bool) -> None:
    """A DATA_ACK sent by host ``h``, for the data of the other host (RFC 8684 §3.3.2)."""
    judge, flow = m.judge, m.data[1 - h]
    judge.checks += 1
    seen = (value, wide, flow.fin_max)
    if seen == flow.ack_seen:  # the same DATA_ACK again, judged already
        return
    flow.ack_seen = seen
    if not m.conn.data_ack_frame[h]:
        m.conn.data_ack_frame[h] = seg.frame
    ack = flow.expand(value, wide)
    if flow.idsn is not None and relative(ack, flow.idsn) < 1:
        judge.breach(
            DATA_ACK_BEFORE_IDSN,
            (seg.frame,),
            f"DATA_ACK {ack:#x} is at or below {HOSTS[1 - h]}'s IDSN "
            f"{flow.idsn:#x} (expected at least IDSN+1)",
            sub.name,
        )
        return
    _beyond_sent(m, seg, sub, h, flow, ack)
    if (
        not wide
        and flow.wide_seen
        and flow.wide_only
        and flow.base is not None
        and relative(ack, flow.base) > 0
    ):
        judge.checks += 1
        if not m.lossy(1 - h):
            judge.breach(
                DSS_ACK_WIDTH,
                (seg.frame,),
                f"32-bit DATA_ACK {value:#x} for data {HOSTS[1 - h]} sent "
                "with 64-bit DSNs only (expected a 64-bit DATA_ACK)",
                sub.name,
            )
    if flow.acked is None or relative(ack, flow.acked) > 0:
        for failure in m.checksum_failures:
            if failure.host == 1 - h and not failure.accepted and relative(ack, failure.end) >= 0:
                failure.accepted = seg.frame
        flow.acked = ack
        flow.forget_below(ack)
        m.data_event(seg, sub, h, ack, 0, "data_ack")
        if flow.fin is not None and ack == (flow.fin + 1) & MASK64:
            m.close_event(1 - h, CloseEvent.DATA_FIN_ACKED, seg.frame)


def _beyond_sent(m: DataContext, seg: Segment, sub: Subflow, h: int, flow: DataDirection, ack: int) -> None:
    judge = m.judge
    if flow.fin is not None:
        limit = (flow.fin_max + 1) & MASK64
        if relative(ack, limit) > 0:
            judge.breach(
                DATA_ACK_BEYOND_SENT,
                (seg.frame, flow.fin_frame),
                f"DATA_ACK {ack:#x} is beyond {HOSTS[1 - h]}'s DATA_FIN at {flow.fin_max:#x} "
                f"(expected at most "
                f"{limit:#x})",
                sub.name,
            )
        return
    top = flow.top if flow.top is not None else flow.base
    if top is None or relative(ack, top) <= 0:
        return
    message = f"DATA_ACK {ack:#x} is beyond the highest DSN {top:#x} {HOSTS[1 - h]} was seen sending"
    if m.complete:
        judge.breach(DATA_ACK_BEYOND_SENT, (seg.frame,), message, sub.name)
    else:
        judge.undetermined(
            DATA_ACK_BEYOND_SENT,
            (seg.frame,),
            message + " (the data may have gone on packets or subflows the capture missed)",
            sub.name,
        )

"""How subflows and the connection end: subflow resets (RFC 8684 §3.6), fast close (§3.5), reinjection of
what a dying subflow held (§3.3.6), and the final ``ConnectionClosed``.

Functions over the connection state and the event queue, shared by the input side and the timers.
"""

from __future__ import annotations

from collections import deque

from ..spec.options import MpFail, MpFastclose, MptcpOption, MpTcpRst
from ..spec.segment import ACK, RST, Segment
from . import events as ev
from .emit import reset_segment
from .state import ConnectionState
from .subflow import Subflow, SubflowEvent
from .wire import tcp_options

__all__ = ["drop_subflow", "fast_close", "finish", "reinject", "reply_reset", "reset_subflow"]


def reinject(state: ConnectionState, sf: Subflow) -> None:
    """Queue the data this subflow holds unacknowledged to be sent again elsewhere (RFC 8684 §3.3.6)."""
    for chunk in sf.chunks:
        if chunk.dsn is not None and chunk.data:
            state.sender.reinject_range(chunk.dsn, chunk.dsn + len(chunk.data))


def finish(state: ConnectionState, events: deque[ev.Event], reset: bool, reason: str) -> None:
    """The connection is over (once)."""
    if state.closed:
        return
    state.closed = True
    state.data_fin_deadline = None
    state.pm.announcing.clear()
    events.append(ev.ConnectionClosed(reset, reason))


def drop_subflow(
    state: ConnectionState, events: deque[ev.Event], sf: Subflow, reset: bool, reason: int | None
) -> None:
    """Forget a subflow (reset by either side); the connection ends with its last subflow."""
    sf.advance(SubflowEvent.RESET)
    sf.rto_deadline = None
    sf.ack_pending = sf.join_ack_pending = False
    if not state.fallback:
        reinject(state, sf)
    sf.chunks.clear()
    events.append(ev.SubflowClosed(sf.id, reset, reason))
    if state.live() or state.closed:
        return
    if state.data_level_done:
        finish(state, events, reset=False, reason="closed")
    else:
        finish(state, events, reset=True, reason="every subflow was reset")


def reset_subflow(
    state: ConnectionState,
    events: deque[ev.Event],
    sf: Subflow,
    reason: int,
    now: float,
    failed_dsn: int | None = None,
) -> None:
    """Reset one subflow with an MP_TCPRST naming ``reason`` (RFC 8684 §3.6), and an MP_FAIL naming
    ``failed_dsn`` when a DSS checksum failed there (§3.7)."""
    options: tuple[MptcpOption, ...] = ()
    if state.mptcp and not state.fallback:
        options = (MpTcpRst(0, reason),)
        if failed_dsn is not None:
            options += (MpFail(failed_dsn & ((1 << 64) - 1)),)
    state.outbox.append(reset_segment(state, sf, now, options))
    drop_subflow(state, events, sf, reset=True, reason=reason)


def fast_close(
    state: ConnectionState, events: deque[ev.Event], now: float, reason: str, skip: Subflow | None = None
) -> None:
    """MP_FASTCLOSE (RFC 8684 §3.5): a RST carrying the peer's key on every live subflow but ``skip``."""
    if state.closed:
        return
    key = state.remote_key if state.mptcp and not state.fallback else None
    state.fast_closed = True
    for sf in state.live():
        if sf is not skip:
            options = (MpFastclose(key),) if key is not None else ()
            state.outbox.append(reset_segment(state, sf, now, options))
        sf.advance(SubflowEvent.RESET)
        sf.rto_deadline = None
        sf.ack_pending = sf.join_ack_pending = False
        sf.chunks.clear()
    finish(state, events, reset=True, reason=reason)


def reply_reset(seg: Segment, now: float, options: tuple[MptcpOption, ...] = ()) -> Segment:
    """RST answering a segment no live subflow owns (RFC 9293 §3.10.7.1), with ``options`` if given."""
    if seg.has_ack:
        seq, ack, flags = seg.ack, 0, RST
    else:
        seq, ack, flags = 0, (seg.seq + seg.seq_space) & 0xFFFFFFFF, RST | ACK
    return Segment(
        frame=0,
        time=now,
        ip_version=seg.ip_version,
        src=seg.dst,
        dst=seg.src,
        sport=seg.dport,
        dport=seg.sport,
        seq=seq,
        ack=ack,
        flags=flags,
        window=0,
        payload_len=0,
        tcp_options=tcp_options(None, options),
        mptcp=options,
    )

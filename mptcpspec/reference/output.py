"""What the reference endpoint puts on the wire: data scheduling and the order of everything.

``collect(state, now)`` assembles, in order, the segments due now: queued resets, the MP_CAPABLE third
ACK, MP_JOIN third ACKs, data and retransmissions (after the scheduler has spread new data over the
subflows), the DATA_FIN, path-management signals, and pure ACKs where an acknowledgment is owed.
"""

from __future__ import annotations

from ..spec.options import MptcpOption
from ..spec.segment import ACK, FIN, PSH, SYN, Segment
from . import handshake
from .emit import ack_options, make_segment, mptcp_on, payload_size
from .scheduler import pick_subflow
from .signals import control_segments
from .state import ConnectionState, Role
from .subflow import Chunk, Subflow, SubflowState

__all__ = ["collect", "queue_fins"]


def _chunk_options(state: ConnectionState, sf: Subflow, chunk: Chunk) -> tuple[MptcpOption, ...]:
    if chunk.flags & SYN:
        return chunk.options
    if chunk.dsn is None or not mptcp_on(state):
        return ack_options(state)
    first = state.local_idsn + 1
    if state.role is Role.CLIENT and sf.id == 0 and chunk.dsn == first and chunk.seq == sf.iss + 1:
        return (handshake.capable(state.checksum, state.local_key, state.remote_key, chunk.data, first),)
    ssn = chunk.seq - sf.iss
    return (handshake.data_dss(state.data_ack(), chunk.dsn, ssn, chunk.data, state.checksum),)


def _chunk_segment(state: ConnectionState, sf: Subflow, chunk: Chunk, now: float) -> Segment:
    opening = chunk.flags & SYN and sf.state is SubflowState.SYN_SENT
    flags = chunk.flags | (0 if opening else ACK) | (PSH if chunk.data else 0)
    return make_segment(
        state,
        sf,
        flags,
        chunk.seq,
        now,
        chunk.data,
        _chunk_options(state, sf, chunk),
        mss=bool(chunk.flags & SYN),
    )


def _schedule(state: ConnectionState) -> None:
    """Give new and reinjected data to subflows, lowest RTT first, within the peer's data-level window."""
    sender = state.sender
    if not state.established:
        return
    while not sender.all_sent:
        if sender.reinject:
            available = sum(stop - start for start, stop in sender.reinject)
        else:
            available = min(sender.end, state.peer_right_edge) - sender.next_new
        if available <= 0:
            return
        sizes = [payload_size(state, sf) for sf in state.live() if sf.usable]
        sf = pick_subflow(state.subflows.values(), min(available, *sizes) if sizes else available)
        if sf is None:
            return
        piece = sender.take(min(payload_size(state, sf), sf.space()), state.peer_right_edge)
        if piece is None:
            return
        sf.queue(piece[1], dsn=piece[0])


def _subflow_segments(state: ConnectionState, sf: Subflow, now: float) -> list[Segment]:
    out: list[Segment] = []
    if sf.join_ack_pending and state.remote_key is not None:
        sf.join_ack_pending = False
        option = handshake.join_ack(state.local_key, state.remote_key, sf.local_nonce, sf.remote_nonce)
        out.append(make_segment(state, sf, ACK, sf.snd_nxt, now, options=(option,)))
        sf.rto_deadline = now + sf.rto
        sf.ack_pending = False
    if sf.state is SubflowState.SYN_SENT and sf.is_join and not state.dss_seen:
        return out
    if sf.state is SubflowState.PRE_ESTABLISHED:
        return out
    force = sf.recover is not None and bool(sf.chunks) and sf.chunks[0].lost
    for chunk in sf.due(force):
        out.append(_chunk_segment(state, sf, chunk, now))
        sf.mark_sent(chunk, now)
        sf.ack_pending = False
    if sf.ack_pending and sf.state is not SubflowState.SYN_SENT:
        sf.ack_pending = False
        out.append(make_segment(state, sf, ACK, sf.snd_nxt, now, options=ack_options(state)))
    return out


def queue_fins(state: ConnectionState) -> None:
    """Close every established subflow with a FIN once nothing more is to be sent on it."""
    for sf in state.live():
        if sf.state is SubflowState.ESTABLISHED and not sf.fin_queued:
            sf.fin_queued = True
            sf.queue(b"", FIN)


def _first_data_pending(state: ConnectionState, initial: Subflow) -> bool:
    """The initiator's first data segment is queued and unsent: it will carry MP_CAPABLE with both keys."""
    first = initial.chunks[0] if initial.chunks else None
    return first is not None and not first.transmissions and first.dsn == state.local_idsn + 1


def collect(state: ConnectionState, now: float) -> list[Segment]:
    """All segments due now, in the order they should leave."""
    out = list(state.outbox)
    state.outbox.clear()
    initial = state.initial
    _schedule(state)
    if state.send_third_ack and initial is not None and state.remote_key is not None:
        state.send_third_ack = False
        if not _first_data_pending(state, initial):  # else the third ACK carries data (RFC 8684 §3.1)
            option = handshake.capable(state.checksum, state.local_key, state.remote_key)
            out.append(make_segment(state, initial, ACK, initial.snd_nxt, now, options=(option,)))
            initial.ack_pending = False
    if state.fallback and state.sender.fin_requested and state.sender.all_sent and initial is not None:
        queue_fins(state)
    for sf in list(state.subflows.values()):
        if sf.state is not SubflowState.CLOSED:
            out += _subflow_segments(state, sf, now)
        elif sf.ack_pending:
            sf.ack_pending = False
            out.append(make_segment(state, sf, ACK, sf.snd_nxt, now, options=ack_options(state)))
    out += control_segments(state, now)
    return out

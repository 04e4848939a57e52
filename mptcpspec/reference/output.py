"""What the reference endpoint puts on the wire: data scheduling and segment construction.

``collect(state, now)`` assembles, in order, the segments due now: queued resets, the MP_CAPABLE third
ACK, MP_JOIN third ACKs, data and retransmissions (after the scheduler has spread new data over the
subflows), the DATA_FIN, path-management signals, and pure ACKs where an acknowledgment is owed.
"""

from __future__ import annotations

from ..spec.options import AddAddr, MpPrio, MptcpOption, RemoveAddr
from ..spec.segment import ACK, FIN, PSH, RST, SYN, Segment
from . import handshake
from .scheduler import pick_subflow
from .state import ConnectionState, Role
from .subflow import Chunk, Subflow, SubflowState
from .wire import tcp_options

__all__ = ["collect", "make_segment", "payload_size", "queue_fins", "reset_segment"]

MASK32 = 0xFFFFFFFF
OPTION_ROOM = 40


def make_segment(
    state: ConnectionState,
    sf: Subflow,
    flags: int,
    seq: int,
    now: float,
    payload: bytes = b"",
    options: tuple[MptcpOption, ...] = (),
    mss: bool = False,
) -> Segment:
    """A segment on subflow ``sf`` with the current ACK and window."""
    ack = sf.rcv_nxt if flags & ACK else 0
    return Segment(
        frame=0,
        time=now,
        ip_version=4,
        src=sf.local[0],
        dst=sf.remote[0],
        sport=sf.local[1],
        dport=sf.remote[1],
        seq=seq & MASK32,
        ack=ack & MASK32,
        flags=flags,
        window=min(state.config.receive_window >> (0 if flags & SYN else sf.rcv_wscale), 0xFFFF),
        payload_len=len(payload),
        payload=payload,
        tcp_options=tcp_options(state.config.mss if mss else None, options, sf.offer_wscale if mss else None),
        mptcp=options,
    )


def payload_size(state: ConnectionState, sf: Subflow) -> int:
    """Payload bytes per segment: the MSS less the room MPTCP options may take."""
    return sf.mss - (OPTION_ROOM if state.mptcp and not state.fallback else 0)


def _mptcp_on(state: ConnectionState) -> bool:
    return state.mptcp and not state.fallback and state.receiver is not None


def _ack_options(state: ConnectionState) -> tuple[MptcpOption, ...]:
    return (handshake.data_dss(state.data_ack()),) if _mptcp_on(state) else ()


def _chunk_options(state: ConnectionState, sf: Subflow, chunk: Chunk) -> tuple[MptcpOption, ...]:
    if chunk.flags & SYN:
        return chunk.options
    if chunk.dsn is None or not _mptcp_on(state):
        return _ack_options(state)
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


def _data_fin(state: ConnectionState, now: float) -> list[Segment]:
    """The DATA_FIN on a pure ACK once all data is out, again on each timeout (RFC 8684 §3.3.3)."""
    sender = state.sender
    if not (_mptcp_on(state) and sender.fin_requested and sender.all_sent and not sender.fin_acked):
        return []
    if not state.data_fin_due:
        return []
    usable = [sf for sf in state.live() if sf.usable] or [
        sf for sf in state.live() if sf.state is SubflowState.ESTABLISHED
    ]
    if not usable:
        return []
    usable.sort(key=lambda s: s.rto)
    sf = usable[state.data_fin_sends % len(usable)]  # each retry on the next subflow
    state.data_fin_sends += 1
    state.data_fin_due = False
    state.data_fin_deadline = now + sf.rto
    fin_dsn = sender.fin_dsn
    assert fin_dsn is not None
    dss = handshake.data_dss(state.data_ack(), fin_dsn, 0, b"", state.checksum, data_fin=True)
    sf.ack_pending = False
    return [make_segment(state, sf, ACK, sf.snd_nxt, now, options=(dss,))]


def _signals(state: ConnectionState, now: float) -> list[Segment]:
    """ADD_ADDR (and echoes), REMOVE_ADDR and MP_PRIO, each on a pure ACK (RFC 8684 §3.4, §3.3.8)."""
    carriers = [sf for sf in state.live() if sf.state is SubflowState.ESTABLISHED]
    if not carriers or not _mptcp_on(state) or state.remote_key is None:
        return []
    sf = carriers[0]
    options: list[MptcpOption] = []
    for item in state.pm.due_announcements(now, state.config.add_addr_interval):
        options.append(
            handshake.announce(state.local_key, state.remote_key, item.address_id, item.address, item.port)
        )
    options += [AddAddr(True, i, address, port) for i, address, port in state.pm.echoes]
    state.pm.echoes.clear()
    if state.pm.removals:
        options.append(RemoveAddr(tuple(state.pm.removals)))
        state.pm.removals.clear()
    out = [make_segment(state, sf, ACK, sf.snd_nxt, now, options=(o,)) for o in options]
    for sub_id in sorted(state.prio_pending):
        target = state.subflows[sub_id]
        if target.state is SubflowState.ESTABLISHED:
            prio = MpPrio(1 if target.backup else 0)
            out.append(
                make_segment(state, target, ACK, target.snd_nxt, now, options=(prio, *_ack_options(state)))
            )
    state.prio_pending.clear()
    return out


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
        out.append(make_segment(state, sf, ACK, sf.snd_nxt, now, options=_ack_options(state)))
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
            out.append(make_segment(state, sf, ACK, sf.snd_nxt, now, options=_ack_options(state)))
    out += _data_fin(state, now)
    out += _signals(state, now)
    return out


def reset_segment(
    state: ConnectionState, sf: Subflow, now: float, options: tuple[MptcpOption, ...] = ()
) -> Segment:
    """A RST on subflow ``sf`` (with MP_TCPRST or MP_FASTCLOSE when given)."""
    return make_segment(state, sf, RST | ACK, sf.snd_nxt, now, options=options)

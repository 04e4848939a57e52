"""Control segments: the DATA_FIN (RFC 8684 §3.3.3) and path-management signals (ADD_ADDR, its echo,
REMOVE_ADDR, §3.4; MP_PRIO, §3.3.8), packed into as few pure ACKs as their sizes allow.

Every such pure ACK is a TCP duplicate ACK; packing keeps them from reaching three in a row, which a
peer would take for a loss (§3.4.1 asks hosts to avoid it).
"""

from __future__ import annotations

from ..spec.options import AddAddr, Dss, MpPrio, MptcpOption, RemoveAddr, serialize
from ..spec.segment import ACK, Segment
from . import handshake
from .emit import OPTION_ROOM, ack_options, make_segment, mptcp_on
from .state import ConnectionState
from .subflow import Subflow, SubflowState

__all__ = ["control_segments"]


def _data_fin(state: ConnectionState, now: float) -> tuple[Subflow, Dss] | None:
    """The DATA_FIN once all data is out, again after each timeout, each time on the next subflow."""
    sender = state.sender
    if not (sender.fin_requested and sender.all_sent and not sender.fin_acked and state.data_fin_due):
        return None
    live = state.live()
    usable = [sf for sf in live if sf.usable] or [sf for sf in live if sf.state is SubflowState.ESTABLISHED]
    if not usable:
        return None
    usable.sort(key=lambda s: s.rto)
    sf = usable[state.data_fin_sends % len(usable)]
    state.data_fin_sends += 1
    state.data_fin_due = False
    state.data_fin_deadline = now + sf.rto
    fin_dsn = sender.fin_dsn
    assert fin_dsn is not None
    return sf, handshake.data_dss(state.data_ack(), fin_dsn, 0, b"", state.checksum, data_fin=True)


def _address_signals(state: ConnectionState, now: float) -> list[MptcpOption]:
    """ADD_ADDRs due (first or again), echoes of the peer's (once each), REMOVE_ADDR."""
    assert state.remote_key is not None
    pm = state.pm
    if state.data_level_done:  # closing: no new paths are wanted any more
        pm.announcing.clear()
    options: list[MptcpOption] = [
        handshake.announce(state.local_key, state.remote_key, item.address_id, item.address, item.port)
        for item in pm.due_announcements(now, state.config.add_addr_interval)
    ]
    options += [AddAddr(True, i, address, port) for i, address, port in dict.fromkeys(pm.echoes)]
    pm.echoes.clear()
    if pm.removals:
        options.append(RemoveAddr(tuple(pm.removals)))
        pm.removals.clear()
    return options


def _fill(first: list[MptcpOption], pending: list[MptcpOption]) -> tuple[MptcpOption, ...]:
    """``first`` plus as many of ``pending`` (taken off it) as fit in the TCP options room."""
    used = sum(len(serialize(o)) for o in first)
    while pending and used + len(serialize(pending[0])) <= OPTION_ROOM:
        used += len(serialize(pending[0]))
        first.append(pending.pop(0))
    return tuple(first)


def control_segments(state: ConnectionState, now: float) -> list[Segment]:
    """The DATA_FIN and signals due now, on pure ACKs, the DATA_ACK alongside where it fits."""
    if not mptcp_on(state) or state.remote_key is None:
        return []
    established = [sf for sf in state.live() if sf.state is SubflowState.ESTABLISHED]
    carriers = [sf for sf in established if not sf.fin_queued] or established
    if not carriers:
        return []
    out: list[Segment] = []
    pending = _address_signals(state, now)
    fin = _data_fin(state, now)
    if fin is not None:
        sf, dss = fin
        sf.ack_pending = False
        out.append(make_segment(state, sf, ACK, sf.snd_nxt, now, options=_fill([dss], pending)))
    while pending:
        sf = carriers[0]
        sf.ack_pending = False
        options = _fill([], pending)
        out.append(
            make_segment(state, sf, ACK, sf.snd_nxt, now, options=_fill([*options], list(ack_options(state))))
        )
    for sub_id in sorted(state.prio_pending):
        target = state.subflows[sub_id]
        if target.state is SubflowState.ESTABLISHED:
            prio = MpPrio(1 if target.backup else 0)
            out.append(
                make_segment(state, target, ACK, target.snd_nxt, now, options=(prio, *ack_options(state)))
            )
    state.prio_pending.clear()
    return out

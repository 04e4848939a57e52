"""Segment builders of the reference endpoint: the current ACK, window and options on a subflow."""

from __future__ import annotations

from ..spec.options import MptcpOption
from ..spec.segment import ACK, RST, SYN, Segment
from . import handshake
from .state import ConnectionState
from .subflow import Subflow
from .wire import tcp_options

__all__ = ["OPTION_ROOM", "ack_options", "make_segment", "mptcp_on", "payload_size", "reset_segment"]

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
        ip_version=6 if ":" in sf.local[0] else 4,
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


def mptcp_on(state: ConnectionState) -> bool:
    """MPTCP options go on the wire: negotiated, not fallen back, and the peer's key known."""
    return state.mptcp and not state.fallback and state.receiver is not None


def ack_options(state: ConnectionState) -> tuple[MptcpOption, ...]:
    """The options of a pure ACK: a DSS with our DATA_ACK (RFC 8684 §3.3.2), or none in fallback."""
    return (handshake.data_dss(state.data_ack()),) if mptcp_on(state) else ()


def reset_segment(
    state: ConnectionState, sf: Subflow, now: float, options: tuple[MptcpOption, ...] = ()
) -> Segment:
    """A RST on subflow ``sf`` (with MP_TCPRST or MP_FASTCLOSE when given)."""
    return make_segment(state, sf, RST | ACK, sf.snd_nxt, now, options=options)

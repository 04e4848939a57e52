"""The fallback of RFC 8684 §3.7 that no option announces: data ACKed without a DATA_ACK.

MPTCP options may reach the other host on the SYNs and be stripped later.  So a sender keeps a mapping
on every segment until one of its segments is acknowledged with a DSS that carries a DATA_ACK; if data
of the first subflow is acknowledged without one before that (and before any other subflow exists), the
sender takes the path as not MPTCP capable and falls back to TCP: one last infinite mapping, then no
MPTCP options at all (RFC 8684 §3.7).

The monitor follows this per sender X with ``Unconfirmed``: the first segment of the other host that
acknowledged X's data without a DATA_ACK while X was still unconfirmed, and the first of those that
carried payload (or a FIN), whose acknowledgment by X proves that X received such an ACK.  From that
acknowledgment on X knows of the fallback, and ``fallback.mptcp-after-fallback`` judges what X sends.

Sound only with the start of the subflow in the capture and no sign of missed packets: a DATA_ACK the
capture missed would have confirmed X, after which a missing DATA_ACK means something else (a broken
subflow, closed with a RST).  Otherwise nothing is concluded.
"""

from __future__ import annotations

from dataclasses import dataclass

from .connection import ConnEvent, ConnPhase
from .context import HOSTS, Context
from .options import Dss
from .segment import ACK, FIN, RST, SYN, Segment
from .subflow import Subflow

__all__ = ["Unconfirmed", "acked_without_data_ack", "fallback_known"]

_SEQ_HALF = 1 << 31


@dataclass(slots=True)
class Unconfirmed:
    """Host X's data acknowledged without a DATA_ACK while X was unconfirmed (RFC 8684 §3.7).

    ``frame``: the first such acknowledgment; ``conclusive``: whether the capture shows the subflow's
    start and no sign of loss at that point; ``proof_end``: the subflow sequence number just after the
    first such segment that carried payload or a FIN (None until one does), which X acknowledges once
    it received it.
    """

    frame: int
    conclusive: bool
    proof_end: int | None = None


def _carries_data_ack(seg: Segment) -> bool:
    return any(type(o) is Dss and o.data_ack is not None for o in seg.mptcp)


def acked_without_data_ack(m: Context, seg: Segment, sub: Subflow, h: int, subflows: int) -> None:
    """Host ``h`` sent ``seg`` on ``sub``: note it when it acknowledges the other host's data without a
    DATA_ACK before that host was confirmed, on the first subflow, while it is the only one."""
    conn = m.conn
    x = 1 - h
    if (
        conn.phase is not ConnPhase.ESTABLISHED
        or sub.kind != "initial"
        or subflows != 1
        or conn.data_ack_frame[h]
        or not seg.flags & ACK
        or seg.flags & (SYN | RST)
        or _carries_data_ack(seg)
    ):
        return
    isn = sub.isn[x]
    if isn is None or not 1 < (seg.ack - isn) & 0xFFFFFFFF < _SEQ_HALF:  # acknowledges no data of X
        return
    pending = conn.unconfirmed[x]
    if pending is None:
        conclusive = sub.syn_seen and sub.isn[h] is not None and not (sub.lossy[0] or sub.lossy[1])
        pending = conn.unconfirmed[x] = Unconfirmed(seg.frame, conclusive)
        conn.quiet = False  # X's next segments go through the machine, options or not
    space = seg.payload_len + (1 if seg.flags & FIN else 0)
    if pending.proof_end is None and space:
        pending.proof_end = (seg.seq + space) & 0xFFFFFFFF


def fallback_known(m: Context, seg: Segment, sub: Subflow, h: int) -> ConnEvent | None:
    """``DATA_ACKED_PLAIN`` when host ``h`` acknowledges, with ``seg``, a segment that acknowledged its
    data without a DATA_ACK: from then on ``h`` knows the connection fell back (RFC 8684 §3.7)."""
    pending = m.conn.unconfirmed[h]
    if (
        pending is None
        or not pending.conclusive
        or pending.proof_end is None
        or m.conn.phase is not ConnPhase.ESTABLISHED
        or sub.kind != "initial"
        or not seg.flags & ACK
        or (seg.ack - pending.proof_end) & 0xFFFFFFFF >= _SEQ_HALF
    ):
        return None
    m.conn.fallback_since[h] = seg.frame
    m.conn.fallback_reason = (
        f"{HOSTS[1 - h]} ACKed {HOSTS[h]}'s data without a DATA_ACK at frame {pending.frame}"
    )
    return ConnEvent.DATA_ACKED_PLAIN

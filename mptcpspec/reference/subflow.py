"""One subflow's TCP machinery: sequence numbers, retransmission queue, RTT, RTO and fast retransmit.

Sequence numbers are kept unwrapped (plain integers growing from the initial sequence number) and cut to
32 bits only on the wire, so comparisons need no modular arithmetic; ``unwrap`` brings a 32-bit value
from the wire back next to the value expected.  The MPTCP part of a subflow (options, mappings) lives in
the endpoint; this module is plain TCP (RFC 9293, RFC 6298 for the timer, RFC 5681/6582 for recovery).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..spec.errors import LocalProtocolError
from ..spec.options import MptcpOption
from ..spec.seqnum import seq_diff
from .cc import Window
from .receiver import MappingTracker

__all__ = ["TRANSITIONS", "Chunk", "Subflow", "SubflowEvent", "SubflowState", "unwrap"]

MASK32 = 0xFFFFFFFF
INITIAL_RTO = 1.0
MIN_RTO = 0.2
MAX_RTO = 60.0
DUPACK_THRESHOLD = 3
RST_WINDOW = 1 << 20  # bytes past rcv_nxt a RST may name (our receive window)


def unwrap(value: int, near: int, bits: int = 32) -> int:
    """The unwrapped integer whose low ``bits`` bits are ``value`` and which lies closest to ``near``."""
    return near + seq_diff(value, near & ((1 << bits) - 1), bits)


class SubflowState(enum.Enum):
    """Where a subflow is in its life (TCP states folded to what the endpoint acts on)."""

    SYN_SENT = "syn-sent"
    SYN_RECEIVED = "syn-received"
    PRE_ESTABLISHED = "pre-established"  # MP_JOIN initiator: third ACK sent, waiting for the fourth
    ESTABLISHED = "established"
    CLOSED = "closed"


class SubflowEvent(enum.Enum):
    """What moves a subflow from one state to the next."""

    SYNACK_ACCEPTED = "SYN/ACK accepted"  # initial subflow, initiator (RFC 8684 §3.1)
    JOIN_SYNACK_VERIFIED = "MP_JOIN SYN/ACK HMAC verified"  # join initiator (§3.2)
    FOURTH_ACK = "ACK of the MP_JOIN third ACK"  # join initiator (§3.2)
    HANDSHAKE_ACK = "third ACK accepted"  # listener, initial or join (§3.1, §3.2)
    FINS_EXCHANGED = "FIN each way, ours acknowledged"
    FIN_WAIT_EXPIRED = "peer's FIN never came"
    RESET = "RST sent or received, fast close, or given up"


_OPEN = (
    SubflowState.SYN_SENT,
    SubflowState.SYN_RECEIVED,
    SubflowState.PRE_ESTABLISHED,
    SubflowState.ESTABLISHED,
)

TRANSITIONS: dict[tuple[SubflowState, SubflowEvent], SubflowState] = {
    (SubflowState.SYN_SENT, SubflowEvent.SYNACK_ACCEPTED): SubflowState.ESTABLISHED,
    (SubflowState.SYN_SENT, SubflowEvent.JOIN_SYNACK_VERIFIED): SubflowState.PRE_ESTABLISHED,
    (SubflowState.PRE_ESTABLISHED, SubflowEvent.FOURTH_ACK): SubflowState.ESTABLISHED,
    (SubflowState.SYN_RECEIVED, SubflowEvent.HANDSHAKE_ACK): SubflowState.ESTABLISHED,
    (SubflowState.ESTABLISHED, SubflowEvent.FINS_EXCHANGED): SubflowState.CLOSED,
    (SubflowState.ESTABLISHED, SubflowEvent.FIN_WAIT_EXPIRED): SubflowState.CLOSED,
    **{(state, SubflowEvent.RESET): SubflowState.CLOSED for state in _OPEN},
}
"""The subflow machine: (state, event) -> next state.  A pair not listed is a ``LocalProtocolError``."""


@dataclass(slots=True)
class Chunk:
    """Sequence space we sent once and may send again: payload, SYN or FIN.

    ``dsn`` is the data sequence number of the first payload byte (None for SYN/FIN);  ``options`` are
    fixed MPTCP options for a SYN (the endpoint computes the others at each transmission).
    """

    seq: int
    data: bytes
    flags: int
    dsn: int | None = None
    options: tuple[MptcpOption, ...] = ()
    sent_at: float = 0.0
    transmissions: int = 0
    lost: bool = False

    @property
    def length(self) -> int:
        """Sequence space taken: payload, plus one for a SYN or a FIN."""
        return len(self.data) + (1 if self.flags & 0x03 else 0)  # SYN and FIN take one sequence number

    @property
    def end(self) -> int:
        """Sequence number after the chunk."""
        return self.seq + self.length


@dataclass(slots=True)
class Subflow:
    """TCP state of one subflow plus the few MPTCP facts that belong to it."""

    id: int
    local: tuple[str, int]
    remote: tuple[str, int]
    iss: int
    state: SubflowState
    mss: int
    window: Window
    rcv_mappings: MappingTracker
    is_join: bool = False
    irs: int = 0
    snd_una: int = 0
    snd_nxt: int = 0
    rcv_nxt: int = 0
    peer_window: int = 65535
    chunks: list[Chunk] = field(default_factory=list)
    out_of_order: dict[int, tuple[bytes, bool]] = field(default_factory=dict)
    srtt: float | None = None
    rttvar: float = 0.0
    rto: float = INITIAL_RTO
    rto_deadline: float | None = None
    timeouts: int = 0
    dupacks: int = 0
    recover: int | None = None
    ack_pending: bool = False
    fin_received: bool = False
    fin_queued: bool = False
    local_address_id: int = 0
    remote_address_id: int = 0
    backup: bool = False
    peer_backup: bool = False
    local_nonce: int = 0
    remote_nonce: int = 0
    stale: bool = False
    retired: bool = False
    join_ack_pending: bool = False
    offer_wscale: int | None = None
    snd_wscale: int = 0
    rcv_wscale: int = 0

    def __post_init__(self) -> None:
        self.snd_una = self.snd_nxt = self.iss

    def advance(self, event: SubflowEvent) -> None:
        """Take one transition of ``TRANSITIONS``; a pair it lacks raises and leaves the state alone."""
        following = TRANSITIONS.get((self.state, event))
        if following is None:
            raise LocalProtocolError(
                f"subflow {self.id} in state {self.state.value} cannot take event {event.value!r}",
                section="3.2",
            )
        self.state = following

    # --- sending -------------------------------------------------------------------------------------

    @property
    def flight(self) -> int:
        """Bytes sent, not acknowledged and not presumed lost."""
        return sum(c.length for c in self.chunks if c.transmissions and not c.lost)

    @property
    def queued_end(self) -> int:
        """Sequence number after everything queued."""
        return self.chunks[-1].end if self.chunks else self.snd_nxt

    @property
    def _cwnd_bytes(self) -> int:
        """The congestion window, never below one full segment."""
        return max(int(self.window.cwnd), self.window.mss)

    def space(self) -> int:
        """How many more payload bytes the congestion and receive windows allow to be queued now."""
        queued = sum(c.length for c in self.chunks if not c.transmissions or c.lost)
        by_cwnd = self._cwnd_bytes - self.flight - queued
        by_rwnd = self.snd_una + self.peer_window - self.queued_end
        return max(0, min(by_cwnd, by_rwnd))

    def queue(
        self, data: bytes, flags: int = 0, dsn: int | None = None, options: tuple[MptcpOption, ...] = ()
    ) -> Chunk:
        """Append sequence space (payload, SYN or FIN) to the retransmission queue."""
        chunk = Chunk(self.queued_end, data, flags, dsn, options)
        self.chunks.append(chunk)
        return chunk

    def due(self, force_first: bool = False) -> list[Chunk]:
        """Chunks to transmit now, in order, within the congestion window (``force_first``: the first
        one regardless, for fast retransmit)."""
        out: list[Chunk] = []
        budget = self._cwnd_bytes - self.flight
        for chunk in self.chunks:
            if chunk.transmissions and not chunk.lost:
                continue
            if chunk.length > budget and not (force_first and not out):
                break
            out.append(chunk)
            budget -= chunk.length
        return out

    def mark_sent(self, chunk: Chunk, now: float) -> None:
        """Record a (re)transmission of ``chunk`` at ``now`` and arm the RTO if idle."""
        chunk.transmissions += 1
        chunk.lost = False
        chunk.sent_at = now
        self.snd_nxt = max(self.snd_nxt, chunk.end)
        if self.rto_deadline is None:
            self.rto_deadline = now + self.rto

    # --- acknowledgments ---------------------------------------------------------------------------

    def on_ack(self, ack: int, window: int, pure: bool, now: float) -> tuple[int, bool]:
        """Process a cumulative ACK: returns (bytes newly acknowledged, fast retransmit triggered)."""
        self.peer_window = window
        if ack > self.snd_nxt or ack < self.snd_una:
            return 0, False
        if ack == self.snd_una:
            if pure and self.chunks and self.flight and self.recover is None:
                self.dupacks += 1
                if self.dupacks == DUPACK_THRESHOLD:
                    self._enter_recovery()
                    return 0, True
            return 0, False
        acked = ack - self.snd_una
        self.snd_una = ack
        self.dupacks = 0
        self.timeouts = 0
        self.stale = False
        self._drop_acked(ack, now)
        self.rto_deadline = now + self.rto if self.chunks else None
        if self.recover is not None:
            if ack >= self.recover:
                self.recover = None
            elif self.chunks:
                self.chunks[0].lost = True  # NewReno partial ACK, RFC 6582 §3.2
        return acked, False

    def _drop_acked(self, ack: int, now: float) -> None:
        acked = [c for c in self.chunks if c.end <= ack]
        if acked and acked[-1].end == ack and all(c.transmissions == 1 for c in acked):
            self._rtt_sample(now - acked[-1].sent_at)  # Karn: never time a retransmitted segment
        keep: list[Chunk] = []
        for chunk in self.chunks[len(acked) :]:
            if chunk.seq < ack:  # partly acknowledged: keep the rest
                cut = ack - chunk.seq
                dsn = None if chunk.dsn is None else chunk.dsn + cut
                keep.append(
                    Chunk(
                        ack,
                        chunk.data[cut:],
                        chunk.flags & ~0x02,
                        dsn,
                        (),
                        chunk.sent_at,
                        chunk.transmissions,
                        chunk.lost,
                    )
                )
            else:
                keep.append(chunk)
        self.chunks = keep

    def _rtt_sample(self, rtt: float) -> None:
        """RFC 6298 §2 smoothing."""
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.rto = min(MAX_RTO, max(MIN_RTO, self.srtt + max(0.001, 4 * self.rttvar)))

    def _enter_recovery(self) -> None:
        self.window.on_loss()
        self.recover = self.snd_nxt
        self.chunks[0].lost = True

    def on_timeout(self, now: float) -> None:
        """RTO expiry, RFC 6298 §5: back off, shrink the window, resend everything outstanding."""
        self.timeouts += 1
        self.rto = min(MAX_RTO, self.rto * 2)
        self.window.on_timeout()
        self.dupacks = 0
        self.recover = None
        for chunk in self.chunks:
            if chunk.transmissions:
                chunk.lost = True
        self.rto_deadline = now + self.rto if self.chunks else None

    # --- receiving -----------------------------------------------------------------------------------

    def accept(self, seq: int, data: bytes, fin: bool) -> tuple[int, bytes, bool]:
        """Take a segment's payload; returns (start, in-order bytes now readable, FIN now reached)."""
        if data or fin:
            self.ack_pending = True
        if seq > self.rcv_nxt:
            self.out_of_order.setdefault(seq, (data, fin))
            return self.rcv_nxt, b"", False
        start = self.rcv_nxt
        delivered = bytearray(data[self.rcv_nxt - seq :])
        self.rcv_nxt += len(delivered)
        fin_now = fin and seq + len(data) == self.rcv_nxt and not self.fin_received
        while not fin_now:
            self._trim_out_of_order()
            if self.rcv_nxt not in self.out_of_order:
                break
            more, fin_now = self.out_of_order.pop(self.rcv_nxt)
            delivered += more
            self.rcv_nxt += len(more)
        if fin_now:
            self.rcv_nxt += 1
            self.fin_received = True
        return start, bytes(delivered), fin_now

    def peer_window_of(self, window: int, syn: bool) -> int:
        """The peer's receive window in bytes: the field scaled, except on SYNs (RFC 7323 §2.2)."""
        return window if syn else window << self.snd_wscale

    def _trim_out_of_order(self) -> None:
        """Cut out-of-order pieces that now start before ``rcv_nxt`` (they overlapped delivered data)."""
        for key in [k for k in self.out_of_order if k < self.rcv_nxt]:
            more, more_fin = self.out_of_order.pop(key)
            if key + len(more) > self.rcv_nxt or (more_fin and key + len(more) == self.rcv_nxt):
                self.out_of_order.setdefault(self.rcv_nxt, (more[self.rcv_nxt - key :], more_fin))

    def reset_acceptable(self, seq: int, ack: int, has_ack: bool) -> bool:
        """Whether a RST belongs to this subflow (RFC 9293 §3.10.7): in SYN-SENT it must acknowledge our
        SYN; otherwise its sequence number must fall in the window we offer."""
        if self.state is SubflowState.SYN_SENT:
            return has_ack and ack == (self.iss + 1) & MASK32
        offset = unwrap(seq, self.rcv_nxt) - self.rcv_nxt
        return -1 <= offset <= RST_WINDOW

    @property
    def usable(self) -> bool:
        """Established, not failed, removed or closing: may carry new data."""
        return (
            self.state is SubflowState.ESTABLISHED
            and not self.stale
            and not self.retired
            and not self.fin_queued
        )

"""The reference MPTCP v1 endpoint, sans-IO (RFC 8684): segments and time in, segments and events out.

Shaped like aioquic's ``QuicConnection`` and h11's ``Connection``: ``Endpoint(role, config, now)`` never
touches a socket or a clock.  A driver feeds it ``receive(segment, now)`` and ``handle_timer(now)``, sends
what ``segments_to_send(now)`` returns, sleeps until ``get_timer()``, and reads ``next_event()``.  The
application calls ``connect``, ``send``, ``close`` and ``abort``; the path manager calls
``add_address``, ``remove_address``, ``set_backup`` and ``open_subflow``.

Every segment of the connection, in and out, passes through the spec's ``ConnectionMonitor`` (and an
optional extra observer); the endpoint judges nothing itself.  With ``Config.strict``, a finding of
verdict violation raises ``LocalProtocolError`` (for what we sent) or ``RemoteProtocolError``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from ..spec.errors import LocalProtocolError, RemoteProtocolError
from ..spec.monitor import ConnectionMonitor
from ..spec.options import TcpRstReason
from ..spec.rules import Finding
from ..spec.segment import SYN, Segment
from . import events as ev
from . import handshake, lifecycle, output
from .inbound import Inbound
from .sender import DataSender
from .state import Config, ConnectionState, Role
from .subflow import Subflow, SubflowEvent, SubflowState

__all__ = ["Config", "Endpoint", "Observer", "Role"]


class Observer(Protocol):
    """What the endpoint needs of a monitor: judge one segment, given its direction."""

    def step(self, segment: Segment, from_initiator: bool) -> Sequence[Finding]: ...


class Endpoint(Inbound):
    """One MPTCP connection, client or server side."""

    def __init__(
        self, role: Role, config: Config | None = None, now: float = 0.0, observer: Observer | None = None
    ) -> None:
        config = config or Config()
        key = int.from_bytes(config.random(8), "big")
        super().__init__(ConnectionState(role, config, key, DataSender(0)), deque(), now)
        self.monitor = ConnectionMonitor(role.value)
        self.observer = observer
        self.findings: list[Finding] = []
        self._frames = 0

    # --- application calls ---------------------------------------------------------------------------

    def connect(self, local: tuple[str, int | None], remote: tuple[str, int], now: float) -> None:
        """Open the connection: a SYN with MP_CAPABLE from ``local`` to ``remote`` (RFC 8684 §3.1)."""
        if self.state.role is not Role.CLIENT or self.state.subflows:
            raise LocalProtocolError("connect() is for a fresh client endpoint", section="3.1")
        self.now = now
        address, port = local
        port = port or self.state.ephemeral_port()
        sf = self.state.new_subflow((address, port), remote, SubflowState.SYN_SENT)
        self.state.pm.set_initial(address)
        options = (handshake.capable(self.state.config.checksum),) if self.state.config.mptcp else ()
        sf.queue(b"", SYN, options=options)

    def send(self, data: bytes) -> None:
        """Queue application bytes on the connection's data stream."""
        if self.state.sender.fin_requested or self.state.closed:
            raise LocalProtocolError("send() after close() or on a closed connection", section="3.3.3")
        self.state.sender.write(data)

    def close(self) -> None:
        """No more data from us: a DATA_FIN after the last byte (RFC 8684 §3.3.3)."""
        if not self.state.sender.fin_requested:
            self.state.sender.fin_requested = True
            self.state.data_fin_due = True

    def abort(self) -> None:
        """Fast close (RFC 8684 §3.5): RST with MP_FASTCLOSE on every subflow, the connection is over."""
        lifecycle.fast_close(self.state, self.events, self.now, "fast close")

    # --- path manager calls --------------------------------------------------------------------------

    def add_address(self, address: str, port: int | None = None) -> int:
        """Announce a local address with ADD_ADDR (RFC 8684 §3.4.1); returns its address ID."""
        return self.state.pm.announce(address, port, self.now)

    def remove_address(self, address: str) -> None:
        """Withdraw a local address (REMOVE_ADDR, §3.4.2) and reset the subflows that use it."""
        if self.state.pm.remove(address) is None:
            raise LocalProtocolError(f"address {address} has no address ID", section="3.4.2")
        for sf in self.state.live():
            if sf.local[0] == address:
                self._reset(sf, TcpRstReason.UNSPECIFIED)

    def set_backup(self, subflow: int, backup: bool) -> None:
        """Mark a subflow backup or regular and tell the peer with MP_PRIO (RFC 8684 §3.3.8)."""
        self.state.subflows[subflow].backup = backup
        self.state.prio_pending.add(subflow)

    def open_subflow(self, local: str, remote: tuple[str, int] | None = None, backup: bool = False) -> int:
        """Start an MP_JOIN subflow from address ``local`` (RFC 8684 §3.2), to ``remote`` or the initial
        subflow's peer address; its SYN leaves once a DSS has arrived (§3.1).  Returns the subflow id."""
        state = self.state
        initial = state.initial
        if not state.mptcp or state.fallback or state.remote_key is None or initial is None:
            raise LocalProtocolError("MP_JOIN needs an established MPTCP connection", section="3.2")
        sf = self.state.new_subflow(
            (local, state.ephemeral_port()), remote or initial.remote, SubflowState.SYN_SENT
        )
        sf.is_join, sf.backup = True, backup
        sf.local_nonce = state.random_int(4)
        sf.local_address_id = state.pm.local_id(local)
        option = handshake.join_syn(state.remote_key, sf.local_nonce, sf.local_address_id, backup)
        sf.queue(b"", SYN, options=(option,))
        return sf.id

    # --- driver calls --------------------------------------------------------------------------------

    def receive(self, segment: Segment, now: float) -> None:
        """Process one segment addressed to us."""
        self.now = now
        self._dispatch(segment, now)
        self._observe(segment, outgoing=False)
        self._progress(now)

    def segments_to_send(self, now: float) -> list[Segment]:
        """Everything due to go out now."""
        self.now = now
        self._progress(now)
        out = output.collect(self.state, now)
        for segment in out:
            self._observe(segment, outgoing=True)
        return out

    def get_timer(self) -> float | None:
        """When ``handle_timer`` must next be called (None: nothing pending)."""
        deadlines: list[float | None] = [sf.rto_deadline for sf in self.state.live()]
        carriers = any(sf.state is SubflowState.ESTABLISHED for sf in self.state.live())
        deadlines.append(self.state.pm.next_deadline() if carriers and self.state.remote_key else None)
        deadlines.append(self.state.data_fin_deadline)
        pending = [d for d in deadlines if d is not None]
        return min(pending) if pending else None

    def handle_timer(self, now: float) -> None:
        """Retransmission timeouts, MP_JOIN third-ACK and DATA_FIN retransmissions."""
        self.now = now
        state = self.state
        for sf in state.live():
            if sf.rto_deadline is not None and sf.rto_deadline <= now:
                self._subflow_timeout(sf, now)
        if state.data_fin_deadline is not None and state.data_fin_deadline <= now:
            state.data_fin_deadline = None
            state.data_fin_due = not state.sender.fin_acked

    def next_event(self) -> ev.Event | None:
        """The oldest event not yet handed out, or None."""
        return self.events.popleft() if self.events else None

    @property
    def closed(self) -> bool:
        """The connection is over (``ConnectionClosed`` was emitted)."""
        return self.state.closed

    # --- internals -----------------------------------------------------------------------------------

    def _subflow_timeout(self, sf: Subflow, now: float) -> None:
        config = self.state.config
        if sf.state is SubflowState.PRE_ESTABLISHED:
            sf.join_ack_pending = True
            sf.timeouts += 1
            sf.rto = min(60.0, sf.rto * 2)
            sf.rto_deadline = now + sf.rto
        elif not sf.chunks:
            sf.rto_deadline = None
            if sf.fin_queued:  # our FIN is acknowledged but the peer's never came: give up waiting
                sf.advance(SubflowEvent.FIN_WAIT_EXPIRED)
                self.events.append(ev.SubflowClosed(sf.id, reset=False))
            return
        else:
            sf.on_timeout(now)
        if (
            sf.state in (SubflowState.SYN_SENT, SubflowState.SYN_RECEIVED)
            and sf.timeouts > config.syn_retries
        ):
            lifecycle.drop_subflow(self.state, self.events, sf, reset=True, reason=None)
        elif sf.timeouts > config.max_timeouts or self._dead_while_closing(sf):
            lifecycle.reset_subflow(
                self.state, self.events, sf, TcpRstReason.UNACCEPTABLE_PERFORMANCE, self.now
            )
        elif sf.timeouts >= config.stale_after_timeouts and not sf.stale:
            others = [o for o in self.state.live() if o is not sf and o.usable]
            if others:
                sf.stale = True
                lifecycle.reinject(self.state, sf)

    def _dead_while_closing(self, sf: Subflow) -> bool:
        """After both DATA_FINs, a subflow whose FIN keeps timing out is reset: soon when others remain,
        after ``close_timeouts`` when it is the last (its FIN may carry the peer's last DATA_ACK)."""
        if not self.state.data_level_done:
            return False
        last = all(other is sf for other in self.state.live())
        return sf.timeouts >= (
            self.state.config.close_timeouts if last else self.state.config.stale_after_timeouts
        )

    def _progress(self, now: float) -> None:
        """Move the close along: subflow FINs after both DATA_FINs, then the connection's end."""
        state = self.state
        if state.closed:
            return
        while state.join_requests:
            local, remote = state.join_requests.pop(0)
            self.open_subflow(local, remote)
        if state.established and state.data_level_done:
            for sf in state.live():
                if sf.state is not SubflowState.ESTABLISHED:
                    self._reset(sf, TcpRstReason.UNSPECIFIED)
            output.queue_fins(state)
        for sf in state.live():
            if sf.fin_queued and not sf.chunks and sf.rto_deadline is None and state.data_level_done:
                sf.rto_deadline = now + state.config.fin_wait
            if sf.fin_queued and sf.fin_received and not sf.chunks:
                sf.advance(SubflowEvent.FINS_EXCHANGED)
                sf.rto_deadline = None
                self.events.append(ev.SubflowClosed(sf.id, reset=False))
        if state.established and not state.live() and (state.data_level_done or state.fallback):
            lifecycle.finish(self.state, self.events, reset=False, reason="closed")

    def _observe(self, segment: Segment, outgoing: bool) -> None:
        """Show one segment of this connection to the monitor (and the observer); strict mode raises."""
        key = segment.flow if outgoing else (segment.dst, segment.dport, segment.src, segment.sport)
        if key not in self.state.by_tuple:
            return  # a reset for a stranger's segment is no part of the connection
        self._frames += 1
        segment = replace(segment, frame=self._frames)
        from_initiator = outgoing == (self.state.role is Role.CLIENT)
        found = self.monitor.step(segment, from_initiator)
        if self.observer is not None:
            found += self.observer.step(segment, from_initiator)
        self.findings += found
        violations = [f for f in found if f.is_violation]
        if violations and self.state.config.strict:
            first = violations[0]
            error = LocalProtocolError if outgoing else RemoteProtocolError
            raise error(f"{first.rule.id}: {first.message}", section=first.rule.section)

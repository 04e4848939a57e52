"""The reference endpoint's input side: what each arriving segment does to the connection.

``Inbound`` is the base of ``Endpoint``: it dispatches a segment to its subflow by 4-tuple and runs the
MP_CAPABLE handshake (RFC 8684 §3.1), the MP_JOIN handshake in both roles (§3.2), data and DATA_ACKs
(§3.3), address signals (§3.4), fast close (§3.5), subflow resets (§3.6) and fallback (§3.7).
"""

from __future__ import annotations

from collections import deque

from ..spec.crypto import key_idsn
from ..spec.options import (
    AddAddr,
    Dss,
    MpCapable,
    MpFastclose,
    MpJoinAck,
    MpJoinSyn,
    MpJoinSynAck,
    MpPrio,
    MpTcpRst,
    RemoveAddr,
    TcpRstReason,
)
from ..spec.segment import SYN, Segment
from . import emit, handshake, lifecycle
from . import events as ev
from .cc import lia_increase
from .receiver import DataReceiver, Mapping
from .state import ConnectionState, Role
from .subflow import Subflow, SubflowEvent, SubflowState, unwrap
from .wire import peer_mss, peer_wscale

__all__ = ["Inbound"]


class Inbound:
    """Receive-side behaviour over a ``ConnectionState`` and an event queue."""

    def __init__(self, state: ConnectionState, events: deque[ev.Event], now: float) -> None:
        self.state = state
        self.events = events
        self.now = now

    # --- dispatch ------------------------------------------------------------------------------------

    def _dispatch(self, seg: Segment, now: float) -> None:
        sf = self.state.by_tuple.get((seg.dst, seg.dport, seg.src, seg.sport))
        if sf is None:
            self._unknown_flow(seg, now)
            return
        if seg.rst:
            self._on_rst(sf, seg)
        elif sf.state is SubflowState.CLOSED:
            if sf.fin_queued and sf.fin_received:  # closed cleanly: acknowledge a retransmitted FIN
                sf.ack_pending = sf.ack_pending or seg.seq_space > 0
            else:  # reset: whatever still arrives (a late SYN/ACK) gets a RST, after a fast close with its
                key = self.state.remote_key  # key again, as the first may have been lost (RFC 8684 §3.5)
                fast = (MpFastclose(key),) if self.state.fast_closed and key is not None and seg.mptcp else ()
                self.state.outbox.append(lifecycle.reply_reset(seg, now, fast))
        elif sf.state is SubflowState.SYN_SENT:
            self._on_synack(sf, seg, now)
        elif sf.state is SubflowState.SYN_RECEIVED:
            self._on_handshake_ack(sf, seg, now)
        else:
            self._on_established(sf, seg, now)

    def _unknown_flow(self, seg: Segment, now: float) -> None:
        state = self.state
        if seg.rst:
            return
        if seg.syn and not seg.has_ack and state.role is Role.SERVER:
            join = handshake.find(seg.mptcp, MpJoinSyn)
            if join is not None:
                if self.state.join_acceptable(join.token, seg.dst):
                    self._accept_join(seg, join)
                    return
            elif state.initial is None:
                self._accept_initial(seg)
                return
        state.outbox.append(lifecycle.reply_reset(seg, now))

    # --- MP_CAPABLE handshake, RFC 8684 §3.1 ---------------------------------------------------------

    def _reset(self, sf: Subflow, reason: int) -> None:
        lifecycle.reset_subflow(self.state, self.events, sf, reason, self.now)

    def _learn_peer(self, sf: Subflow, seg: Segment) -> None:
        """Initial sequence number and MSS from the peer's SYN or SYN/ACK."""
        sf.irs = seg.seq
        sf.rcv_nxt = seg.seq + 1
        sf.mss = min(self.state.config.mss, peer_mss(seg.tcp_options) or 536)
        sf.window.mss = emit.payload_size(self.state, sf)
        sf.peer_window = seg.window
        offered = peer_wscale(seg.tcp_options)
        if offered is not None and (sf.offer_wscale is not None or sf.state is SubflowState.SYN_RECEIVED):
            sf.offer_wscale = sf.rcv_wscale = self.state.wscale
            sf.snd_wscale = offered
        else:
            sf.offer_wscale = None

    def _accept_initial(self, seg: Segment) -> None:
        state = self.state
        sf = self.state.new_subflow((seg.dst, seg.dport), (seg.src, seg.sport), SubflowState.SYN_RECEIVED)
        state.pm.set_initial(seg.dst)
        offer = handshake.find(seg.mptcp, MpCapable)
        options: tuple[MpCapable, ...] = ()
        if state.config.mptcp and handshake.capable_acceptable(offer, with_key=False):
            assert offer is not None
            state.mptcp = True
            state.checksum = state.config.checksum or offer.checksum_required
            sf.rcv_mappings.checksum = state.checksum
            options = (handshake.capable(state.checksum, state.local_key),)
        else:
            state.fallback = True
        self._learn_peer(sf, seg)
        sf.queue(b"", SYN, options=options)

    def _on_synack(self, sf: Subflow, seg: Segment, now: float) -> None:
        if not (seg.syn and seg.has_ack and seg.ack == (sf.iss + 1) & 0xFFFFFFFF):
            return
        self._learn_peer(sf, seg)
        sf.on_ack(sf.iss + 1, seg.window, False, now)
        if sf.is_join:
            self._join_synack(sf, seg)
            return
        state = self.state
        offer = handshake.find(seg.mptcp, MpCapable)
        if state.config.mptcp and handshake.capable_acceptable(offer, with_key=True):
            assert offer is not None and offer.sender_key is not None
            state.mptcp = True
            state.remote_key = offer.sender_key
            state.checksum = state.config.checksum or offer.checksum_required
            state.send_third_ack = True
        else:
            state.fallback = True
        sf.advance(SubflowEvent.SYNACK_ACCEPTED)
        sf.ack_pending = True
        self._establish(sf, sf.peer_window_of(seg.window, seg.syn))

    def _on_handshake_ack(self, sf: Subflow, seg: Segment, now: float) -> None:
        if seg.syn and not seg.has_ack:
            for chunk in sf.chunks:
                chunk.lost = chunk.lost or bool(chunk.transmissions)
            return
        if not seg.has_ack or seg.ack != (sf.iss + 1) & 0xFFFFFFFF:
            return
        if sf.is_join:
            self._join_third_ack(sf, seg, now)
            return
        state = self.state
        if not state.fallback:
            offer = handshake.find(seg.mptcp, MpCapable)
            if offer is not None and offer.sender_key is not None and offer.receiver_key == state.local_key:
                state.remote_key = offer.sender_key
                state.checksum = state.checksum or offer.checksum_required
            elif seg.mptcp:
                return  # a DSS before any key: wait for the MP_CAPABLE to be sent again (§3.1)
            else:
                state.fallback = True
        sf.advance(SubflowEvent.HANDSHAKE_ACK)
        self._establish(sf, sf.peer_window_of(seg.window, seg.syn))
        self._on_established(sf, seg, now)

    def _establish(self, sf: Subflow, window: int) -> None:
        """The first subflow is up: start the data level and tell the application."""
        state = self.state
        state.established = True
        sf.rcv_mappings.checksum = state.checksum
        if state.mptcp and not state.fallback and state.remote_key is not None:
            state.sender.rebase(state.local_idsn + 1)
            state.receiver = DataReceiver(key_idsn(state.remote_key) + 1)
        else:
            state.fallback = True
            state.receiver = DataReceiver(0)
            sf.rcv_mappings.add(Mapping(1, 0, 0))
        state.peer_right_edge = state.sender.snd_una + window
        self.events.append(ev.ConnectionEstablished(state.fallback, state.checksum and not state.fallback))
        self.events.append(ev.SubflowEstablished(sf.id, sf.local, sf.remote, sf.backup))

    # --- MP_JOIN handshake, RFC 8684 §3.2 ------------------------------------------------------------

    def _accept_join(self, seg: Segment, join: MpJoinSyn) -> None:
        state = self.state
        assert state.remote_key is not None
        sf = self.state.new_subflow((seg.dst, seg.dport), (seg.src, seg.sport), SubflowState.SYN_RECEIVED)
        sf.is_join = True
        sf.rcv_mappings.checksum = state.checksum
        sf.remote_nonce, sf.remote_address_id, sf.peer_backup = join.nonce, join.address_id, join.backup
        sf.local_nonce = state.random_int(4)
        sf.local_address_id = state.pm.local_id(seg.dst)
        self._learn_peer(sf, seg)
        option = handshake.join_synack(
            state.local_key, state.remote_key, sf.local_nonce, sf.remote_nonce, sf.local_address_id, sf.backup
        )
        sf.queue(b"", SYN, options=(option,))

    def _join_synack(self, sf: Subflow, seg: Segment) -> None:
        state = self.state
        answer = handshake.find(seg.mptcp, MpJoinSynAck)
        assert state.remote_key is not None
        if answer is None or not handshake.join_synack_valid(
            answer, state.local_key, state.remote_key, sf.local_nonce
        ):
            self._reset(sf, TcpRstReason.MPTCP_SPECIFIC)
            return
        sf.remote_nonce, sf.remote_address_id, sf.peer_backup = answer.nonce, answer.address_id, answer.backup
        sf.advance(SubflowEvent.JOIN_SYNACK_VERIFIED)
        sf.join_ack_pending = True

    def _join_third_ack(self, sf: Subflow, seg: Segment, now: float) -> None:
        state = self.state
        answer = handshake.find(seg.mptcp, MpJoinAck)
        assert state.remote_key is not None
        if answer is None or not handshake.join_ack_valid(
            answer, state.local_key, state.remote_key, sf.local_nonce, sf.remote_nonce
        ):
            self._reset(sf, TcpRstReason.MPTCP_SPECIFIC)
            return
        sf.advance(SubflowEvent.HANDSHAKE_ACK)
        sf.ack_pending = True  # the fourth ACK, RFC 8684 §3.2
        self.events.append(ev.SubflowEstablished(sf.id, sf.local, sf.remote, sf.backup or sf.peer_backup))
        self._on_established(sf, seg, now)

    # --- established subflows ------------------------------------------------------------------------

    def _on_established(self, sf: Subflow, seg: Segment, now: float) -> None:
        state = self.state
        if seg.syn:
            sf.join_ack_pending = sf.state is SubflowState.PRE_ESTABLISHED
            state.send_third_ack = state.send_third_ack or (
                sf.id == 0 and state.role is Role.CLIENT and state.mptcp and not state.fallback
            )
            sf.ack_pending = True
            return
        if seg.has_ack:
            self._on_subflow_ack(sf, seg, now)
        if sf.is_join and handshake.find(seg.mptcp, MpJoinAck) is not None:
            sf.ack_pending = True  # our fourth ACK was lost: the initiator sent its third again (§3.2)
        self._on_options(sf, seg, now)
        if seg.payload_len or seg.fin:
            start, data, fin_now = sf.accept(unwrap(seg.seq, sf.rcv_nxt), seg.payload, seg.fin)
            if data:
                self._deliver(sf, start - sf.irs, data)
            if fin_now:
                self._on_subflow_fin(sf)

    def _on_subflow_ack(self, sf: Subflow, seg: Segment, now: float) -> None:
        state = self.state
        if sf.state is SubflowState.PRE_ESTABLISHED and seg.ack == (sf.iss + 1) & 0xFFFFFFFF:
            sf.advance(SubflowEvent.FOURTH_ACK)
            sf.rto_deadline = None
            sf.timeouts = 0
            self.events.append(ev.SubflowEstablished(sf.id, sf.local, sf.remote, sf.backup or sf.peer_backup))
        pure = (
            seg.payload_len == 0
            and not seg.fin
            and not seg.syn
            and not any(isinstance(o, (AddAddr, RemoveAddr, MpPrio)) for o in seg.mptcp)
        )
        window = sf.peer_window_of(seg.window, seg.syn)
        acked, _ = sf.on_ack(unwrap(seg.ack, sf.snd_una), window, pure, now)
        if acked:
            flows = [(o.window.cwnd, o.srtt or o.rto) for o in state.live() if o.usable]
            lia_increase(sf.window, acked, flows)
        if state.fallback:  # the TCP ACK is the data ACK (RFC 8684 §3.7)
            pending = [c.dsn for c in sf.chunks if c.dsn is not None]
            state.sender.on_data_ack(min(pending, default=state.sender.next_new))
            state.peer_right_edge = state.sender.snd_una + window

    def _on_options(self, sf: Subflow, seg: Segment, now: float) -> None:
        state = self.state
        if state.fallback or state.receiver is None or state.remote_key is None:
            return
        for option in seg.mptcp:
            if isinstance(option, Dss):
                self._on_dss(sf, seg, option)
            elif isinstance(option, MpCapable) and option.data_length is not None:
                state.dss_seen = True
                sf.rcv_mappings.add(
                    Mapping(1, key_idsn(state.remote_key) + 1, option.data_length, option.checksum)
                )
            elif isinstance(option, AddAddr):
                self._on_add_addr(sf, option)
            elif isinstance(option, RemoveAddr):
                self._on_remove_addr(option)
            elif isinstance(option, MpPrio):
                sf.peer_backup = option.backup
            elif isinstance(option, MpFastclose) and option.receiver_key == state.local_key:
                lifecycle.fast_close(self.state, self.events, self.now, "peer fast close")

    def _on_dss(self, sf: Subflow, seg: Segment, dss: Dss) -> None:
        state = self.state
        receiver = state.receiver
        assert receiver is not None
        state.dss_seen = True
        if dss.data_ack is not None:
            data_ack = unwrap(dss.data_ack, state.sender.snd_una, 64 if dss.data_ack_wide else 32)
            state.sender.on_data_ack(data_ack)
            state.peer_right_edge = max(
                state.peer_right_edge, data_ack + sf.peer_window_of(seg.window, seg.syn)
            )
            if state.sender.fin_acked:
                state.data_fin_deadline = None
        if dss.dsn is None or dss.ssn is None or dss.data_level_length is None:
            return
        dsn = unwrap(dss.dsn, receiver.rcv_nxt, 64 if dss.dsn_wide else 32)
        length = dss.data_level_length
        if dss.data_fin:
            receiver.set_fin(dsn + length - 1)
            sf.ack_pending = True
            length -= 1
            self._check_stream_end()
        if length > 0 and dss.ssn != 0:
            ssn = unwrap(dss.ssn, sf.rcv_nxt - sf.irs)
            sf.rcv_mappings.add(Mapping(ssn, dsn, length, dss.checksum, dss.data_fin))

    def _deliver(self, sf: Subflow, start: int, data: bytes) -> None:
        receiver = self.state.receiver
        assert receiver is not None
        pieces, failed = sf.rcv_mappings.feed(start, data)
        for dsn, piece in pieces:
            ready = receiver.insert(dsn, piece)
            if ready:
                self.events.append(ev.DataReceived(ready))
        if failed:  # the payload was altered on the way: close the subflow, say where (RFC 8684 §3.7)
            reason = TcpRstReason.MIDDLEBOX_INTERFERENCE
            lifecycle.reset_subflow(self.state, self.events, sf, reason, self.now, failed[0].dsn)
        self._check_stream_end()

    def _check_stream_end(self) -> None:
        receiver = self.state.receiver
        if receiver is not None and receiver.fin_received and not self.state.stream_ended:
            self.state.stream_ended = True
            self.events.append(ev.StreamEnded())
            for sf in self.state.live():
                sf.ack_pending = sf.ack_pending or sf.state is SubflowState.ESTABLISHED

    def _on_subflow_fin(self, sf: Subflow) -> None:
        state = self.state
        if state.fallback and state.receiver is not None:
            state.receiver.set_fin(state.receiver.rcv_nxt)
            self._check_stream_end()
        elif not state.data_level_done and any(o.usable for o in state.live() if o is not sf):
            sf.retired = True
            lifecycle.reinject(self.state, sf)

    # --- address signals, RFC 8684 §3.4 ---------------------------------------------------------------

    def _on_add_addr(self, sf: Subflow, option: AddAddr) -> None:
        state = self.state
        assert state.remote_key is not None
        if option.echo:
            state.pm.echoed(option.address_id)
            return
        if not handshake.add_addr_valid(option, state.local_key, state.remote_key):
            return
        state.dss_seen = True  # its HMAC proves the peer has our key, as a DSS would (§3.1)
        state.pm.echo((option.address_id, option.address, option.port), self.now, sf.rto)
        if option.address_id in state.pm.remote:
            return
        state.pm.remote[option.address_id] = (option.address, option.port)
        self.events.append(ev.AddressAnnounced(option.address_id, option.address, option.port))
        initial = state.initial
        if state.config.auto_join and initial is not None and not state.sender.fin_acked:
            state.join_requests.append((initial.local[0], (option.address, option.port or initial.remote[1])))

    def _on_remove_addr(self, option: RemoveAddr) -> None:
        for address_id in option.address_ids:
            self.state.pm.remote.pop(address_id, None)
            self.events.append(ev.AddressRemoved(address_id))
            for sf in self.state.live():
                if sf.remote_address_id == address_id and not sf.retired:
                    sf.retired = True
                    lifecycle.reinject(self.state, sf)

    # --- resets and the end --------------------------------------------------------------------------

    def _on_rst(self, sf: Subflow, seg: Segment) -> None:
        state = self.state
        if sf.state is SubflowState.CLOSED or not sf.reset_acceptable(seg.seq, seg.ack, seg.has_ack):
            return
        fast = handshake.find(seg.mptcp, MpFastclose)
        if fast is not None and fast.receiver_key == state.local_key:
            lifecycle.fast_close(self.state, self.events, self.now, "peer fast close", sf)
            return
        tcprst = handshake.find(seg.mptcp, MpTcpRst)
        lifecycle.drop_subflow(
            self.state, self.events, sf, reset=True, reason=None if tcprst is None else tcprst.reason
        )

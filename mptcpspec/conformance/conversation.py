"""Build legal MPTCP conversations segment by segment: the fixtures of rule tests and conformance cases.

A ``Conversation`` is a builder between endpoint A (the initiator, client) and B (the listener,
server).  Each method appends the segments a pair of real stacks would exchange and returns their
frame numbers; frames are numbered 1..n in capture order and never renumbered, so a test can name
"frame 3" and keep meaning the third ACK.  Segments carry real wire bytes: Linux-like TCP options
(MSS, SACK-permitted, timestamps, window scale on SYNs; timestamps after) and the MPTCP options
serialized by ``mptcpspec.spec.options``, NOP-padded, at most 40 bytes in all.  Keys, nonces, ISNs
and ports come from ``seed``; payload bytes are a pattern of the data-stream offset, so reinjections
and retransmissions carry the same bytes.

Example, a v1 connection with a second subflow, data both ways and a full close::

    conv = Conversation(seed=7)
    conv.connect()                      # frames 1-3: SYN, SYN/ACK, ACK (MP_CAPABLE 4/12/20)
    conv.send("A", 100)                 # frame 4: data mapped by MP_CAPABLE (22); frame 5: B's DATA_ACK
    conv.join("A", backup=True)         # frames 6-9: MP_JOIN SYN, SYN/ACK, ACK, fourth ACK (subflow 1)
    conv.send("B", 3000, subflow=1)     # frames 10-12: three DSS-mapped segments; 13: A's ACK
    conv.close()                        # frames 14-25: A's DATA_FIN on both subflows, B's DATA_ACKs,
                                        # B's DATA_FINs, A's FINs (acking them), B's FINs, A's last ACKs
    conv.write("two-subflows.pcap")

Where Linux (6.18, compared with the captures in ``traces/``) picks one of several legal forms, the
builder picks the same: A's first data is mapped by MP_CAPABLE, a DATA_ACK is 32-bit until its sender
has received a 64-bit DSN, control options follow the DATA_ACK, an ADD_ADDR goes alone, a fast close
is a RST with MP_FASTCLOSE and MP_TCPRST on every subflow.

Violations are made from a legal conversation by changing one thing: either a fault knob on the
builder method (``wrong_key_echo``, ``wrong_token``, ``wrong_synack_hmac``, ``wrong_ack_hmac``,
``wrong_checksum``, ``omit_checksum``, ``dsn_delta`` on ``retransmit``, ``delta`` on ``data_ack``,
``wrong_key`` on ``fastclose``, ``wrong_hmac`` on ``add_addr``), or afterwards with ``with_option``,
``without_option``, ``with_options`` and ``with_segment``, which return a modified copy and keep
every frame number.
"""

from __future__ import annotations

import dataclasses

from ..spec import crypto
from ..spec.errors import LocalProtocolError
from ..spec.options import (
    AddAddr,
    AddAddrV0,
    MpCapable,
    MpFail,
    MpFastclose,
    MpJoinAck,
    MpJoinSyn,
    MpJoinSynAck,
    MpPrio,
    MptcpOption,
    MpTcpRst,
    RemoveAddr,
    TcpRstReason,
)
from ..spec.segment import ACK, PSH, RST, SYN
from .conversation_core import SERVER_PORT, stream_payload
from .conversation_data import ConversationData, Plan
from .conversation_wire import Side, Subflow, peer

__all__ = ["Conversation", "Plan", "Side"]


class Conversation(ConversationData):
    """A builder of one legal MPTCP connection between A and B; see the module docstring.

    Constructor: ``seed`` (keys, nonces, ISNs, ports), ``version`` (1: RFC 8684, 0: RFC 6824),
    ``checksum`` (A asks for DSS checksums), ``ipv6``, ``dsn64`` (DSN width; 32-bit DSNs are legal at low
    rates), ``ack64`` (None: DATA_ACK width as Linux picks it; forcing 32 bits after 64-bit DSNs is a
    fault), ``mss`` (the MSS option; data segments carry at most ``mss - 36`` bytes, as Linux),
    ``timestamps`` (the TCP timestamp option), ``start_time`` and ``step`` (segment times).
    Builder methods, each returning the frame numbers it appended: ``connect``, ``join``, ``send``,
    ``data_ack``, ``reinject``, ``retransmit``, ``data_fin``, ``close_subflow``, ``close``,
    ``add_addr``, ``remove_addr``, ``mp_prio``, ``fastclose``, ``tcp_rst``, ``mp_fail``,
    ``infinite_mapping``.  Questions: ``segments``, ``segment``, ``side_of``, ``subflow_of``,
    ``data_range``, ``open_subflows``, ``keys``, ``token``, ``idsn``, ``isn``, ``data_nxt``,
    ``data_ack_value``.  Injection: ``with_option``, ``without_option``, ``with_options``,
    ``with_segment``; output: ``write``.
    """

    # -- RFC 8684 §3.1: the MP_CAPABLE handshake ---------------------------------------------------

    def connect(
        self,
        *,
        checksum_b: bool | None = None,
        fallback: bool = False,
        data: int = 0,
        wrong_key_echo: bool = False,
    ) -> tuple[int, ...]:
        """SYN, SYN/ACK, third ACK on subflow 0: frames 1, 2, 3.

        ``checksum_b`` is B's checksum flag (default: same as A's); checksums are on when either asks.
        ``fallback``: B answers without MP_CAPABLE, the connection is plain TCP (RFC 8684 §3.7).
        ``data`` bytes ride on the third ACK, mapped by MP_CAPABLE (v1, length 22 or 24).
        ``wrong_key_echo``: A echoes a key B did not send, in the third ACK and every later MP_CAPABLE.
        """
        if self._subflows:
            raise LocalProtocolError("connect() opens subflow 0 and may run once", section="3.1")
        addresses: dict[Side, str] = {"A": self.address("A", 0), "B": self.address("B", 0)}
        ports: dict[Side, int] = {"A": self._ephemeral_port(), "B": SERVER_PORT}
        sf = self._new_subflow(addresses, ports, {"A": 0, "B": 0})
        if checksum_b is not None:
            self.checksum_requested["B"] = checksum_b
        self.checksum = self.checksum_requested["A"] or self.checksum_requested["B"]
        self._echo_key ^= int(wrong_key_echo)
        v0 = self.version == 0
        key_a = self.keys["A"] if v0 else None
        syn = MpCapable(self.version, self._mpc_flags(self.checksum_requested["A"]), key_a)
        frames = [self._emit("A", sf, SYN, (syn,))]
        if fallback:
            self.mptcp = False
            return (*frames, self._emit("B", sf, SYN | ACK), self._emit("A", sf, ACK))
        synack = MpCapable(self.version, self._mpc_flags(self.checksum_requested["B"]), self.keys["B"])
        frames.append(self._emit("B", sf, SYN | ACK, (synack,)))
        self._fully_established["A"] = v0
        if data and not v0:
            return (*frames, *self.send("A", data, ack=False))
        return (*frames, self._emit("A", sf, ACK, (self._mpc_ack(),)))

    # -- RFC 8684 §3.2: MP_JOIN ---------------------------------------------------------------------

    def join(
        self,
        initiator: Side = "A",
        *,
        backup: bool = False,
        address: str | None = None,
        remote_address: str | None = None,
        address_id: int | None = None,
        remote_address_id: int = 0,
        wrong_token: bool = False,
        wrong_synack_hmac: bool = False,
        wrong_ack_hmac: bool = False,
        fourth_ack: bool = True,
    ) -> tuple[int, ...]:
        """Open a new subflow with MP_JOIN: SYN, SYN/ACK, third ACK and (by default) the fourth ACK.

        The new subflow's index is ``subflow_count - 1`` afterwards.  ``address`` is the initiator's new
        address (default: its next unused one), ``remote_address`` the peer's (default: its first),
        ``address_id`` the initiator's address ID (default: the subflow index).  The three ``wrong_*``
        knobs flip the lowest bit of the token or HMAC.
        """
        if not self.mptcp:
            raise LocalProtocolError("no MP_JOIN on a connection that fell back to TCP", section="3.7")
        responder = peer(initiator)
        index = len(self._subflows)
        own = address or self.address(initiator, index)
        other = remote_address or self.address(responder, 0)
        ports: dict[Side, int] = {
            initiator: self._ephemeral_port(),
            responder: self._subflows[0].port[responder],
        }
        ids: dict[Side, int] = {
            initiator: index if address_id is None else address_id,
            responder: remote_address_id,
        }
        sf = self._new_subflow({initiator: own, responder: other}, ports, ids)
        sf.backup[initiator] = backup
        key_i, key_r = self.keys[initiator], self.keys[responder]
        nonce_i, nonce_r = self._rng.getrandbits(32), self._rng.getrandbits(32)
        token = self.token(responder) ^ (1 if wrong_token else 0)
        syn = MpJoinSyn(int(backup), ids[initiator], token, nonce_i)
        mac = crypto.join_synack_hmac(key_r, key_i, nonce_r, nonce_i, self.version) ^ int(wrong_synack_hmac)
        synack = MpJoinSynAck(0, ids[responder], mac, nonce_r)
        full = crypto.join_ack_hmac(key_i, key_r, nonce_i, nonce_r, self.version)
        if wrong_ack_hmac:
            full = full[:-1] + bytes((full[-1] ^ 1,))
        frames = [
            self._emit(initiator, sf, SYN, (syn,)),
            self._emit(responder, sf, SYN | ACK, (synack,)),
            self._emit(initiator, sf, ACK, (MpJoinAck(full),)),
        ]
        if fourth_ack:
            frames.append(self._pure_ack(responder, sf))
        return tuple(frames)

    # -- RFC 8684 §3.4: path management ----------------------------------------------------------------

    def add_addr(
        self,
        side: Side,
        address_id: int,
        address: str,
        *,
        port: int | None = None,
        subflow: int = 0,
        echo: bool = True,
        wrong_hmac: bool = False,
    ) -> tuple[int, ...]:
        """``side`` announces ``address`` (RFC 8684 §3.4.1); the peer echoes it (v1) unless ``echo=False``.

        v1 carries the truncated HMAC of the sender's and receiver's keys; v0 uses the RFC 6824 form.
        """
        sf = self._subflow(subflow)
        option: MptcpOption
        if self.version == 0:
            version = 6 if ":" in address else 4
            option = AddAddrV0(version, address_id, address, port)
            return (self._pure_ack(side, sf, (option,)),)
        mac = crypto.add_addr_hmac(self.keys[side], self.keys[peer(side)], address_id, address, port)
        option = AddAddr(False, address_id, address, port, mac ^ int(wrong_hmac))
        frames = [self._pure_ack(side, sf, (option,))]
        if echo:
            frames.append(self._pure_ack(peer(side), sf, (AddAddr(True, address_id, address, port),)))
        return tuple(frames)

    def remove_addr(self, side: Side, address_ids: tuple[int, ...], *, subflow: int = 0) -> tuple[int, ...]:
        """``side`` withdraws addresses (RFC 8684 §3.4.2); closing their subflows is up to the caller."""
        return (self._pure_ack(side, self._subflow(subflow), (RemoveAddr(tuple(address_ids)),)),)

    def mp_prio(
        self, side: Side, *, backup: bool = True, subflow: int = 0, address_id: int | None = None
    ) -> tuple[int, ...]:
        """``side`` sends MP_PRIO (RFC 8684 §3.3.8); ``address_id`` gives the RFC 6824 four-byte form."""
        sf = self._subflow(subflow)
        sf.backup[side] = backup
        return (self._pure_ack(side, sf, (MpPrio(int(backup), address_id),)),)

    # -- RFC 8684 §3.5, §3.6: fast close and subflow reset -----------------------------------------------

    def fastclose(
        self, side: Side, *, subflow: int = 0, rst: bool = True, wrong_key: bool = False
    ) -> tuple[int, ...]:
        """``side`` aborts the connection with MP_FASTCLOSE carrying the peer's key (RFC 8684 §3.5).

        ``rst=True`` (Linux): a RST with MP_FASTCLOSE and MP_TCPRST (reason unspecified) on every open
        subflow.  ``rst=False``: ACK + MP_FASTCLOSE on ``subflow``, RST on the others, and the peer
        answers with a RST on ``subflow``.
        """
        option = MpFastclose(self.keys[peer(side)] ^ int(wrong_key))
        reset = (option, MpTcpRst(0, TcpRstReason.UNSPECIFIED)) if rst else ()
        chosen = self._subflow(subflow)
        frames: list[int] = []
        if not rst:
            frames.append(self._emit(side, chosen, ACK, (option,)))
        for sf in self._live_subflows():
            if rst or sf is not chosen:
                frames.append(self._emit(side, sf, RST | ACK, reset))
        if not rst:
            frames.append(self._emit(peer(side), chosen, RST | ACK))
        for sf in self._subflows:
            sf.closed = True
        return tuple(frames)

    def tcp_rst(
        self,
        side: Side,
        *,
        subflow: int,
        reason: int = TcpRstReason.UNSPECIFIED,
        transient: bool = False,
    ) -> tuple[int, ...]:
        """``side`` resets ``subflow`` with MP_TCPRST and ``reason`` (RFC 8684 §3.6)."""
        sf = self._subflow(subflow)
        frame = self._emit(side, sf, RST | ACK, (MpTcpRst(int(transient), int(reason)),))
        sf.closed = True
        return (frame,)

    # -- RFC 8684 §3.7: fallback -------------------------------------------------------------------------

    def mp_fail(
        self, side: Side, *, subflow: int = 0, dsn: int | None = None, rst: bool = False, respond: bool = True
    ) -> tuple[int, ...]:
        """``side`` reports a checksum failure with MP_FAIL (RFC 8684 §3.7).

        ``dsn`` defaults to the first DSN ``side`` has not accepted from its peer.  ``rst=True``: the
        MP_FAIL rides on a RST that closes the subflow.  Otherwise it rides on an ACK and (``respond``)
        the peer answers with its own MP_FAIL, as the RFC requires before the infinite mapping.
        """
        sf = self._subflow(subflow)
        value = self._streams[peer(side)].received.nxt if dsn is None else dsn
        option = MpFail(value % 2**64)
        if rst:
            frame = self._emit(side, sf, RST | ACK, (option,))
            sf.closed = True
            return (frame,)
        frames = [self._pure_ack(side, sf, (option,))]
        if respond:
            answer = MpFail(self._streams[side].received.nxt % 2**64)
            frames.append(self._pure_ack(peer(side), sf, (answer,)))
        return tuple(frames)

    def infinite_mapping(
        self, side: Side, size: int, *, subflow: int = 0, retroactive: bool = False
    ) -> tuple[int, ...]:
        """``side`` falls back to TCP on ``subflow``: new data with a DSS of data-level length 0.

        The mapping starts, as Linux sends it, at this segment's own DSN and SSN; with ``retroactive``
        at the last DSN the peer DATA_ACKed and the SSN where that byte was sent (the letter of RFC 8684
        §3.7).  Its checksum, when checksums are on, is 0.  Afterwards no MPTCP option is sent; the peer
        ACKs the data as plain TCP.
        """
        sf = self._subflow(subflow)
        stream = self._streams[side]
        dsn = stream.received.nxt if retroactive else stream.nxt
        mapping = dataclasses.replace(
            self._data_ack(side),
            dsn=dsn % (2**64 if self.dsn64 else 2**32),
            dsn_wide=self.dsn64,
            ssn=self._ssn_for(side, sf, dsn) % 2**32,
            data_level_length=0,
            checksum=0 if self.checksum else None,
        )
        payload = stream_payload(side, stream, stream.nxt, size)
        frame = self._emit(side, sf, ACK | PSH, (mapping,), payload)
        stream.nxt += size
        stream.received.nxt = stream.nxt
        self.mptcp = False
        return (frame, self._pure_ack(peer(side), sf))

    def _ssn_for(self, side: Side, sf: Subflow, dsn: int) -> int:
        """The relative SSN where ``side`` sent data-level byte ``dsn`` on ``sf`` (its next SSN if never)."""
        for carried in reversed(self._carried):
            sent = carried.side == side and carried.subflow == sf.index and carried.dsn is not None
            if sent and carried.dsn is not None and carried.dsn <= dsn < carried.dsn + carried.data_length:
                return sf.ssn(side, carried.seq + dsn - carried.dsn)
        if dsn != self._streams[side].nxt:
            raise LocalProtocolError(f"DSN {dsn} was never sent on subflow {sf.index}", section="3.7")
        return sf.ssn(side, sf.half[side].nxt)

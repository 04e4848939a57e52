"""The tester's MPTCP side of a connection: keys, data sequence numbers, DSS mappings, data and close.

A ``Session`` is built by ``open_session`` (the tester initiates: SYN with MP_CAPABLE, RFC 8684 §3.1) or
``accept_session`` (the stack initiates); it crafts DSS options for what the tester sends (64-bit DSNs
by default, the checksum when negotiated, RFC 8684 §3.3) and reassembles what the stack sends by DSN,
acknowledging it at both levels.  Everything goes through the spec's serializer and crypto.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ...spec.crypto import dss_checksum, key_idsn, key_token
from ...spec.options import Dss, MpCapable, MptcpOption
from ...spec.segment import ACK, FIN, SYN, Segment
from ...spec.seqnum import infer_dsn64
from ..stacks.apps import stream
from .case import CaseFailed, Role
from .tester import Flow, Tester

__all__ = [
    "CHECKSUM_REQUIRED",
    "HMAC_SHA256",
    "NO_MORE_SUBFLOWS",
    "Session",
    "accept_session",
    "capable_of",
    "dss_of",
    "open_session",
    "tester_key",
]

HMAC_SHA256 = 0x01
CHECKSUM_REQUIRED = 0x80
NO_MORE_SUBFLOWS = 0x20  # flag C (RFC 8684 §3.1)
_MASK64 = (1 << 64) - 1
_SEED = 8684  # apps.py: the client sends stream(seed), the server answers stream(seed + 1)


def tester_key(name: str) -> int:
    """A fixed 64-bit key per case name, so a rerun sends the same bytes."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") | 1


def capable_of(segment: Segment) -> MpCapable | None:
    """The segment's MP_CAPABLE option, if any."""
    return next((o for o in segment.mptcp if isinstance(o, MpCapable)), None)


def dss_of(segment: Segment) -> Dss | None:
    """The segment's DSS option, if any."""
    return next((o for o in segment.mptcp if isinstance(o, Dss)), None)


@dataclass(slots=True)
class Session:
    """One MPTCP connection between the tester and the stack, from the tester's side."""

    tester: Tester
    flow: Flow
    local_key: int
    remote_key: int
    checksum: bool = False
    version: int = 1
    ack_wide: bool = True
    snd_dsn: int = 0
    rcv_dsn: int = 0
    received: dict[int, bytes] = field(default_factory=dict)
    inbound: bytearray = field(default_factory=bytearray)
    data_fin_dsn: int | None = None
    _maps: dict[int, tuple[int, int]] = field(default_factory=dict)  # local port -> (seq, DSN) of a mapping

    def __post_init__(self) -> None:
        self.snd_dsn = (key_idsn(self.local_key, self.version) + 1) & _MASK64
        self.rcv_dsn = self._first_rcv_dsn

    @property
    def _first_rcv_dsn(self) -> int:
        return (key_idsn(self.remote_key, self.version) + 1) & _MASK64

    @property
    def remote_token(self) -> int:
        return key_token(self.remote_key, self.version)

    # --- what the tester sends ----------------------------------------------------------------------

    def third_ack(self, *, payload: bytes = b"", receiver_key: int | None = None) -> MpCapable:
        """Our MP_CAPABLE for the third ACK (with ``payload``: the data-carrying form, RFC 8684 §3.1)."""
        flags = HMAC_SHA256 | (CHECKSUM_REQUIRED if self.checksum else 0)
        remote = self.remote_key if receiver_key is None else receiver_key
        if not payload:
            return MpCapable(1, flags, self.local_key, remote)
        value = dss_checksum(self.snd_dsn, 1, len(payload), payload) if self.checksum else None
        return MpCapable(1, flags, self.local_key, remote, len(payload), value)

    def mapping(
        self, flow: Flow, payload: bytes, *, dsn: int | None = None, data_fin: bool = False,
        wide: bool = True, ack_wide: bool | None = None, checksum: bool | None = None,
    ) -> Dss:  # fmt: skip
        """A DSS mapping ``payload`` (sent next on ``flow``) at ``dsn`` (default: our next DSN), with a
        DATA_ACK of everything received; a bare DATA_FIN maps SSN 0 (RFC 8684 §3.3.3)."""
        dsn = self.snd_dsn if dsn is None else dsn
        length = len(payload) + int(data_fin)
        ssn = 0 if data_fin and not payload else flow.ssn(flow.snd_nxt)
        with_checksum = self.checksum if checksum is None else checksum
        value = dss_checksum(dsn, ssn, length, payload) if with_checksum else None
        ack = self.ack_option(ack_wide)
        return Dss(
            data_ack=ack.data_ack, data_ack_wide=ack.data_ack_wide,
            dsn=dsn if wide else dsn & 0xFFFFFFFF, dsn_wide=wide, ssn=ssn, data_level_length=length,
            checksum=value, data_fin=data_fin,
        )  # fmt: skip

    def send_data(self, flow: Flow, payload: bytes, *, data_fin: bool = False, **kwargs: bool) -> Segment:
        """Send ``payload`` on ``flow`` with its own mapping and advance our DSN (and data FIN)."""
        dss = self.mapping(flow, payload, data_fin=data_fin, **kwargs)
        segment = self.tester.send(flow, ACK, (dss,), payload=payload)
        self.advance(len(payload) + int(data_fin))
        return segment

    def advance(self, length: int) -> None:
        """Our next DSN moves on by ``length`` (data sent outside ``send_data``)."""
        self.snd_dsn = (self.snd_dsn + length) & _MASK64

    def send_ack(self, flow: Flow, *extra: MptcpOption) -> Segment:
        """A pure ACK carrying our DATA_ACK (and ``extra`` options)."""
        return self.tester.send(flow, ACK, (self.ack_option(), *extra))

    def ack_option(self, wide: bool | None = None) -> Dss:
        """A DSS with only our DATA_ACK: 64-bit, or 32-bit when ``wide`` (default ``ack_wide``) is off."""
        wide = self.ack_wide if wide is None else wide
        value = self.rcv_dsn
        return Dss(data_ack=value if wide else value & 0xFFFFFFFF, data_ack_wide=wide)

    @property
    def _stack_is_server(self) -> bool:
        return self.tester.case.role is Role.SERVER

    def upload(self, flow: Flow | None = None, chunk: int = 1400, **forms: bool) -> None:
        """Send the stream the stack's application expects, a mapping per segment (``forms``: the
        ``mapping`` widths and checksum): ``up`` bytes of stream ``seed`` to a server, ``down`` bytes of
        ``seed + 1`` to a client."""
        case = self.tester.case
        data = stream(_SEED, case.up) if self._stack_is_server else stream(_SEED + 1, case.down)
        for start in range(0, len(data), chunk):
            self.send_data(flow or self.flow, data[start : start + chunk], **forms)

    # --- what the stack sends ---------------------------------------------------------------------

    def data_ack_of(self, segment: Segment) -> int | None:
        """The 64-bit DATA_ACK in ``segment`` (a 32-bit one is widened next to our DSN)."""
        dss = dss_of(segment)
        if dss is None or dss.data_ack is None:
            return None
        return dss.data_ack if dss.data_ack_wide else infer_dsn64(dss.data_ack, self.snd_dsn)

    def acks_all(self, segment: Segment) -> bool:
        """Whether ``segment`` acknowledges every DSN we sent (data and DATA_FIN)."""
        return self.data_ack_of(segment) == self.snd_dsn

    def take(self, flow: Flow, segment: Segment) -> None:
        """Place the data of ``segment`` (from the stack on ``flow``) by DSN and note a DATA_FIN."""
        dss = dss_of(segment)
        capable = capable_of(segment)
        if dss is not None and dss.dsn is not None and dss.ssn is not None and dss.data_level_length:
            dsn = dss.dsn if dss.dsn_wide else infer_dsn64(dss.dsn, self.rcv_dsn)
            if dss.data_fin:
                self.data_fin_dsn = (dsn + dss.data_level_length - 1) & _MASK64
            if dss.ssn or not dss.data_fin:
                self._maps[flow.lport] = ((flow.irs + dss.ssn) % (1 << 32), dsn)
        elif capable is not None and capable.data_length:  # maps SSN 1 to IDSN + 1 (RFC 8684 §3.1)
            self._maps[flow.lport] = ((flow.irs + 1) % (1 << 32), self._first_rcv_dsn)
        if segment.payload_len and flow.lport in self._maps:
            start_seq, start_dsn = self._maps[flow.lport]
            self.received[(start_dsn + (segment.seq - start_seq) % (1 << 32)) & _MASK64] = segment.payload
        while self.rcv_dsn in self.received:
            data = self.received.pop(self.rcv_dsn)
            self.inbound += data
            self.rcv_dsn = (self.rcv_dsn + len(data)) & _MASK64
        if self.data_fin_dsn == self.rcv_dsn:
            self.rcv_dsn = (self.rcv_dsn + 1) & _MASK64

    def download(self, total: int, *, data_fin: bool = True, timeout: float = 3.0) -> bytes:
        """Receive the stack's stream up to ``total`` bytes from its start (and its DATA_FIN),
        acknowledging each arrival at both levels; fails unless the bytes are the stream the stack's
        application sends.  The bytes received by this call."""
        start = len(self.inbound)
        want = (self._first_rcv_dsn + total + int(data_fin)) & _MASK64
        flows = self.tester.flows
        while 0 < (want - self.rcv_dsn) & _MASK64 < 1 << 63:
            segment = self.tester.expect(
                f"data up to DSN {want:#x}", lambda s: any(f.inbound(s) for f in flows), timeout
            )
            flow = next(f for f in flows if f.inbound(segment))
            before = self.rcv_dsn
            self.take(flow, segment)
            if segment.payload_len or segment.fin or self.rcv_dsn != before:
                self.send_ack(flow)
        data = bytes(self.inbound[start:])
        seed = _SEED + 1 if self._stack_is_server else _SEED
        if data != stream(seed, len(self.inbound))[start:]:
            raise CaseFailed(f"the {len(data)} bytes the stack sent differ from its application's stream")
        return data

    def close(self, *, timeout: float = 3.0) -> str:
        """The data-level close (RFC 8684 §3.3.3) after our upload: a server stack reads to our DATA_FIN
        and answers; a client stack sends first.  Then the subflow FINs; fails if the application saw
        bad data.  A summary of the exchange."""
        case = self.tester.case
        if not self._stack_is_server:
            self.download(case.up, timeout=timeout)
            self.upload()
        self.send_data(self.flow, b"", data_fin=True)
        self.tester.expect("DATA_ACK of our DATA_FIN", self.acks_all, timeout)
        if self._stack_is_server:
            self.download(case.down, timeout=timeout)
        finish_subflow(self.tester, self.flow)
        outcome = self.tester.app_outcome()
        if not outcome.ok:
            raise CaseFailed(f"the stack's application did not get the right data: {outcome.detail}")
        return f"{case.up} bytes up and {case.down} down, both DATA_FINs acknowledged"


def finish_subflow(tester: Tester, flow: Flow, timeout: float = 1.0) -> None:
    """Close ``flow`` at the TCP level: our FIN, and an ACK of the stack's FIN (before or after ours)."""
    tester.send(flow, FIN | ACK)
    if flow.fin_received:
        return
    alternatives = {
        "FIN": lambda s: flow.inbound(s) and s.fin,
        "RST": lambda s: flow.inbound(s) and s.rst,
    }
    if tester.expect_any(alternatives, timeout)[0] == "FIN":
        tester.send(flow, ACK)


def open_session(
    tester: Tester, *, flags: int = HMAC_SHA256, key: int | None = None, third_ack: bool = True
) -> Session:
    """The tester opens a v1 connection: SYN with MP_CAPABLE ``flags``, the stack's SYN/ACK with its
    key, our third ACK echoing both keys (RFC 8684 §3.1; ``third_ack=False`` leaves it to the case).
    Starts the stack's application."""
    tester.start_app()
    flow = tester.new_flow()
    tester.send(flow, SYN, (MpCapable(1, flags),))
    synack = tester.expect("SYN/ACK with MP_CAPABLE", lambda s: flow.inbound(s) and s.syn and s.has_ack)
    capable = capable_of(synack)
    if capable is None or capable.sender_key is None:
        raise CaseFailed("the SYN/ACK carries no MP_CAPABLE with a key", (synack.frame,))
    flow.irs, flow.rcv_nxt = synack.seq, (synack.seq + 1) % (1 << 32)
    local_key = key if key is not None else tester_key(tester.case.name)
    checksum = bool((flags | capable.flags) & CHECKSUM_REQUIRED)
    session = Session(tester, flow, local_key, capable.sender_key, checksum=checksum)
    if third_ack:
        tester.send(flow, ACK, (session.third_ack(),))
    return session


def accept_session(tester: Tester, *, flags: int = HMAC_SHA256, key: int | None = None) -> Session:
    """The stack opens a v1 connection to the tester: its SYN, our SYN/ACK with our key, its third ACK
    (or first data) echoing both keys.  Starts the stack's application."""
    tester.start_app()
    syn = tester.expect(
        "SYN with MP_CAPABLE", lambda s: s.syn and not s.has_ack and capable_of(s) is not None
    )
    flow = tester.accept_flow(syn)
    local_key = key if key is not None else tester_key(tester.case.name)
    tester.send(flow, SYN | ACK, (MpCapable(1, flags, local_key),))
    third = tester.expect(
        "third ACK with MP_CAPABLE", lambda s: flow.inbound(s) and capable_of(s) is not None
    )
    capable = capable_of(third)
    if capable is None or capable.sender_key is None:
        raise CaseFailed("the third ACK carries no key", (third.frame,))
    checksum = bool((flags | capable.flags) & CHECKSUM_REQUIRED)
    session = Session(tester, flow, local_key, capable.sender_key, checksum=checksum)
    session.take(flow, third)
    if third.payload_len:
        session.send_ack(flow)
    return session

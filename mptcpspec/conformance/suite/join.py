"""RFC 8684 §3.2: MP_JOIN, both as the stack's listener and as the joins the stack opens itself.

``join`` performs the tester's side of the four-way join (token, nonces, truncated and full HMACs from
``mptcpspec.spec.crypto``); its ``tamper`` argument breaks one element, and the stack must answer with a
RST (RFC 8684 §3.2, §3.8).  The stack-initiated joins check the stack's token and HMAC and see how it
reacts to a SYN/ACK that is wrong.
"""

from __future__ import annotations

from collections.abc import Callable

from ...spec.crypto import join_ack_hmac, join_synack_hmac, key_token
from ...spec.options import MpJoinAck, MpJoinSyn, MpJoinSynAck, MpPrio
from ...spec.segment import ACK, SYN, Segment
from ..stacks.apps import stream
from ..stacks.base import StackConfig
from .case import Case, CaseFailed, CaseUnsupported, Role
from .matches import option, reset, synack
from .session import Session, accept_session, open_session
from .tester import Flow, Tester

__all__ = [
    "CASES",
    "JOINING",
    "STACK_UPLOAD",
    "answer_join",
    "await_join",
    "established",
    "join",
    "send_rest",
]

NONCE_A = 0x5EED0001
NONCE_B = 0x5EED0002


def established(t: Tester, part: int = 500) -> Session:
    """A connection the stack has fully established: handshake, ``part`` bytes of upload, DATA_ACK."""
    session = open_session(t)
    session.send_data(session.flow, stream(8684, t.case.up)[:part])
    t.expect("DATA_ACK of the first data", session.acks_all)
    return session


def join(
    session: Session, *, alt: bool = True, backup: bool = False, address_id: int = 2, tamper: str = "",
    remote_alt: bool = False,
) -> tuple[Flow, Segment]:  # fmt: skip
    """Open a subflow with MP_JOIN; returns it and the stack's last answer (the fourth ACK, or the RST
    a ``tamper``ed join draws).  ``tamper``: ``token``, ``ack-hmac`` or ``ack-option``."""
    t = session.tester
    flow = t.new_flow(alt=alt, remote_alt=remote_alt)
    token = session.remote_token ^ (1 if tamper == "token" else 0)
    t.send(flow, SYN, (MpJoinSyn(int(backup), address_id, token, NONCE_A),))
    if tamper == "token":
        return flow, t.expect("RST to a join with an unknown token", reset(flow))
    answer, reply = t.expect_any({"SYN/ACK with MP_JOIN": synack(flow), "RST": reset(flow)})
    if answer == "RST":
        return flow, reply
    joined = option(reply, MpJoinSynAck)
    if joined is None:
        raise CaseFailed("the SYN/ACK to a join carries no MP_JOIN", (reply.frame,))
    want = join_synack_hmac(session.remote_key, session.local_key, joined.nonce, NONCE_A)
    if joined.truncated_hmac != want:
        raise CaseFailed(f"SYN/ACK HMAC {joined.truncated_hmac:#x}, expected {want:#x}", (reply.frame,))
    flow.irs, flow.rcv_nxt = reply.seq, (reply.seq + 1) % (1 << 32)
    mac = join_ack_hmac(session.local_key, session.remote_key, NONCE_A, joined.nonce)
    if tamper == "ack-hmac":
        mac = bytes(b ^ 0xFF for b in mac)
    t.send(flow, ACK, () if tamper == "ack-option" else (MpJoinAck(mac),))
    if tamper:
        return flow, t.expect(f"RST to a third ACK with a bad {tamper}", reset(flow))
    return flow, t.expect("fourth ACK", lambda s: flow.inbound(s) and not s.syn)


def _join_then_transfer(
    t: Tester, *, may_refuse: bool = False, alt: bool = True, backup: bool = False, remote_alt: bool = False
) -> str:
    """A valid join, then the rest of the upload on it; ``may_refuse``: a RST is an allowed answer."""
    session = established(t)
    flow, reply = join(session, alt=alt, backup=backup, remote_alt=remote_alt)
    if reply.rst and not may_refuse:
        raise CaseFailed("the stack reset a valid join", (reply.frame,))
    send_rest(session, session.flow if reply.rst else flow)
    what = "join refused with a RST" if reply.rst else "join accepted, data on it acknowledged"
    return f"{what}; {session.close()}"


def send_rest(session: Session, flow: Flow) -> None:
    """Send the rest of the upload (after ``established``'s first part) on ``flow``."""
    data = stream(8684, session.tester.case.up)[500:]
    session.send_data(flow, data)
    session.tester.expect("DATA_ACK of the data sent on the joined subflow", session.acks_all)


def _refused(tamper: str = "", first_ok: bool = False) -> Callable[[Tester], str]:
    def body(t: Tester) -> str:
        session = established(t)
        if first_ok:
            join(session)
        _, reply = join(session, tamper=tamper, address_id=3)
        if not reply.rst:
            raise CaseFailed("the join was not refused with a RST", (reply.frame,))
        send_rest(session, session.flow)
        return f"join refused with a RST; the connection goes on: {session.close()}"

    return body


def _stack_join(t: Tester, tamper: str = "") -> str:
    session = accept_session(t)
    return answer_join(session, await_join(session), tamper)


def answer_join(session: Session, syn: Segment, tamper: str = "") -> str:
    """Answer the stack's SYN with MP_JOIN: check its token, send our SYN/ACK (its HMAC or MP_JOIN
    broken by ``tamper``: ``synack-hmac``, ``synack-option``), check the third ACK's HMAC, send the
    fourth ACK (with a DATA_ACK, or a regular TCP ACK for ``tamper="plain-fourth-ack"``) and check the
    subflow stays up.  A tampered SYN/ACK must draw a RST (RFC 8684 §3.2)."""
    t = session.tester
    request = option(syn, MpJoinSyn)
    assert request is not None
    if request.token != key_token(session.local_key):
        raise CaseFailed(
            f"join token {request.token:#x}, ours is {key_token(session.local_key):#x}", (syn.frame,)
        )
    flow = t.accept_flow(syn)
    mac = join_synack_hmac(session.local_key, session.remote_key, NONCE_B, request.nonce)
    if tamper == "synack-hmac":
        mac ^= 0xFFFF
    t.send(flow, SYN | ACK, () if tamper == "synack-option" else (MpJoinSynAck(0, 0, mac, NONCE_B),))
    if tamper.startswith("synack"):
        t.expect(f"RST to a SYN/ACK with a bad {tamper}", reset(flow))
        return f"the stack reset its join after a SYN/ACK with a bad {tamper}"
    third = t.expect("third ACK with MP_JOIN", lambda s: flow.inbound(s) and option(s, MpJoinAck) is not None)
    want = join_ack_hmac(session.remote_key, session.local_key, request.nonce, NONCE_B)
    got = option(third, MpJoinAck)
    if got is None or got.hmac != want:
        raise CaseFailed(f"third ACK HMAC {got and got.hmac.hex()}, expected {want.hex()}", (third.frame,))
    t.send(flow, ACK, () if tamper == "plain-fourth-ack" else (session.ack_option(),))
    t.expect_silence("RST of the established join", reset(flow), 0.3)
    fourth = "a regular TCP ACK" if tamper else "a DATA_ACK"
    return f"the stack's join carries our token and the right third-ACK HMAC; it stays up after {fourth}"


def _stack_prio(t: Tester) -> str:
    """The stack joins from its second address, then marks that address backup: MP_PRIO with B, in the
    v1 layout, on the joined subflow, which it concerns (RFC 8684 §3.3.8)."""
    session = accept_session(t)
    syn = await_join(session)
    answer_join(session, syn)
    joined = t.flows[-1]
    t.stack.set_backup(syn.src, True)
    signal = t.expect("MP_PRIO from the stack", lambda s: option(s, MpPrio) is not None, 2.0)
    prio = option(signal, MpPrio)
    if prio is None or not prio.backup or prio.address_id is not None or not joined.inbound(signal):
        raise CaseFailed(f"expected a v1 MP_PRIO backup on the joined subflow, got {prio}", (signal.frame,))
    return "MP_PRIO backup (v1 layout) on the joined subflow"


def await_join(session: Session, timeout: float = 3.0) -> Segment:
    """Take and acknowledge the stack's data until its SYN with MP_JOIN arrives, closing our receive
    window meanwhile so that the stack's client cannot finish (and close) before its path manager
    joins; ``CaseUnsupported`` when no join comes within ``timeout`` seconds of quiet."""
    session.flow.window = 0
    try:
        return _take_until_join(session, timeout)
    finally:
        session.flow.window = _OPEN_WINDOW
        session.send_ack(session.flow)


_OPEN_WINDOW = 65535


def _take_until_join(session: Session, timeout: float) -> Segment:
    t = session.tester
    while True:
        try:
            segment = t.expect("SYN with MP_JOIN", lambda s: s.syn or session.flow.inbound(s), timeout)
        except CaseFailed:
            raise CaseUnsupported(f"the stack opened no join within {timeout} s") from None
        if segment.syn and option(segment, MpJoinSyn) is not None:
            return segment
        session.take(session.flow, segment)
        session.send_ack(session.flow)


JOINING = StackConfig(join_from_alt=True)
STACK_UPLOAD = 200_000  # the stack's client keeps sending (its DATA_FIN waits) while it joins

CASES = (
    Case("mp-join.valid", "3.2", "a join from another address: HMACs right, data on it acknowledged",
         _join_then_transfer),
    Case("mp-join.same-address", "3.2", "a join from the initial subflow's address (another port)",
         lambda t: _join_then_transfer(t, alt=False)),
    Case("mp-join.to-second-address", "3.2", "a join to the stack's second address (where its application "
         "does not listen): accepted, or refused with a RST", lambda t:
         _join_then_transfer(t, remote_alt=True, may_refuse=True)),
    Case("mp-join.ipv6", "3.2", "a join over IPv6", _join_then_transfer, ip_version=6),
    Case("mp-join.backup", "3.2", "a join with the backup flag is accepted", lambda t:
         _join_then_transfer(t, backup=True)),
    Case("mp-join.unknown-token", "3.2", "a join with a token the stack never issued draws a RST",
         _refused("token")),
    Case("mp-join.bad-ack-hmac", "3.2", "a third ACK with a wrong HMAC draws a RST", _refused("ack-hmac")),
    Case("mp-join.ack-without-option", "3.2", "a third ACK without MP_JOIN draws a RST",
         _refused("ack-option")),
    Case("mp-join.over-limit", "3.2", "a join beyond the stack's subflow limit (0) is refused with a RST",
         _refused(), StackConfig(subflows=0)),
    Case("mp-join.second-over-limit", "3.2", "with a limit of one, the second join is refused",
         _refused(first_ok=True), StackConfig(subflows=1)),
    Case("mp-join.stack-joins", "3.2", "the stack's own join: our token, the right third-ACK HMAC",
         _stack_join, JOINING, Role.CLIENT, up=STACK_UPLOAD),
    Case("mp-join.stack-fourth-ack-plain", "3.2", "a regular TCP ACK as the fourth ACK establishes the "
         "stack's join", lambda t: _stack_join(t, "plain-fourth-ack"), JOINING, Role.CLIENT, up=STACK_UPLOAD),
    Case("mp-prio.stack-sends-backup", "3.3.8", "the stack marks its joined subflow backup with MP_PRIO",
         _stack_prio, JOINING, Role.CLIENT, up=STACK_UPLOAD),
    Case("mp-join.stack-bad-synack-hmac", "3.2", "the stack resets its join on a SYN/ACK with a bad HMAC",
         lambda t: _stack_join(t, "synack-hmac"), JOINING, Role.CLIENT, up=STACK_UPLOAD),
    Case("mp-join.stack-synack-without-option", "3.2", "the stack resets its join on a SYN/ACK without "
         "MP_JOIN", lambda t: _stack_join(t, "synack-option"), JOINING, Role.CLIENT, up=STACK_UPLOAD),
)  # fmt: skip

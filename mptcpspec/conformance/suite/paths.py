"""RFC 8684 §3.4 (ADD_ADDR, REMOVE_ADDR), §3.3.8 (MP_PRIO), §3.5 (MP_FASTCLOSE), §3.6 (MP_TCPRST).

The ADD_ADDR family is one table of announcements (address family, port, HMAC right or wrong) and the
answer required: an echo of exactly that announcement, or silence.  The MP_TCPRST family sends every
registered reason code on a joined subflow; the connection must go on over the initial subflow.
"""

from __future__ import annotations

from collections.abc import Callable

from ...spec.crypto import add_addr_hmac
from ...spec.options import AddAddr, MpFastclose, MpPrio, MptcpOption, MpTcpRst, RemoveAddr, TcpRstReason
from ...spec.segment import ACK, RST, Segment
from ..stacks.base import StackConfig
from ..witnesses import model, solve
from .case import Case, CaseFailed, CaseUnsupported, Role
from .join import STACK_UPLOAD, answer_join, await_join, established, join, send_rest
from .matches import option, reset
from .session import Session, accept_session, open_session
from .tester import Match, Tester

__all__ = ["CASES"]


def _announce(
    session: Session, address: str, port: int | None, *, good_hmac: bool = True, aid: int = 5
) -> None:
    mac = add_addr_hmac(session.local_key, session.remote_key, aid, address, port) ^ (0 if good_hmac else 1)
    session.tester.send(session.flow, ACK, (AddAddr(False, aid, address, port, mac),))


def _echo_of(address: str, port: int | None, aid: int) -> Match:
    def match(segment: Segment) -> bool:
        echo = option(segment, AddAddr)
        return (
            echo is not None
            and echo.echo
            and (echo.address_id, echo.address, echo.port) == (aid, address, port)
        )

    return match


def _add_addr_case(name: str, v6: bool, port: bool, good: bool) -> Case:
    def body(t: Tester) -> str:
        session = established(t)
        address = t.stack.tester_alt_addr(6 if v6 else 4)
        number = 5555 if port else None
        _announce(session, address, number, good_hmac=good)
        if good:
            t.expect("ADD_ADDR echo", _echo_of(address, number, 5))
        else:
            t.expect_silence("ADD_ADDR echo of an announcement with a bad HMAC",
                             lambda s: option(s, AddAddr) is not None)  # fmt: skip
        send_rest(session, session.flow)
        verdict = "echoed" if good else "ignored (no echo)"
        return f"ADD_ADDR {address} port {number} {verdict}; {session.close()}"

    text = f"{'an IPv6' if v6 else 'an IPv4'} ADD_ADDR{' with a port' if port else ''}" + (
        " is echoed" if good else " with a wrong HMAC is ignored"
    )
    return Case(name, "3.4.1", text, body)


_ADD_ADDRS = (
    ("add-addr.ipv4", False, False, True), ("add-addr.ipv4-port", False, True, True),
    ("add-addr.ipv6", True, False, True), ("add-addr.ipv6-port", True, True, True),
    ("add-addr.bad-hmac", False, False, False), ("add-addr.ipv6-bad-hmac", True, False, False),
    ("add-addr.port-bad-hmac", False, True, False),
)  # fmt: skip


def _stack_announces(t: Tester) -> str:
    session = open_session(t)
    session.upload()
    announced = t.expect("ADD_ADDR from the stack", lambda s: (o := option(s, AddAddr)) is not None
                         and not o.echo, 3.0)  # fmt: skip
    add = option(announced, AddAddr)
    assert add is not None
    want = add_addr_hmac(session.remote_key, session.local_key, add.address_id, add.address, add.port)
    if add.truncated_hmac != want:
        raise CaseFailed(f"ADD_ADDR HMAC {add.truncated_hmac}, expected {want:#x}", (announced.frame,))
    session.send_ack(session.flow, AddAddr(True, add.address_id, add.address, add.port))
    return f"the stack announced {add.address} with the right HMAC; {session.close()}"


def _stack_joins_announced(t: Tester) -> str:
    """We announce a second address with our listening port; the stack echoes it and may join to it
    (RFC 8684 §3.4.1): the join must carry our token and the right HMAC."""
    session = accept_session(t)
    address = t.stack.tester_alt_addr(t.case.ip_version)
    _announce(session, address, t.port)
    t.expect("ADD_ADDR echo", _echo_of(address, t.port, 5))
    syn = await_join(session, 2.0)
    if syn.dst != address:
        raise CaseUnsupported(f"the stack joined {syn.dst}, not the announced {address}")
    return f"echoed, then joined the announced address: {answer_join(session, syn)}"


def _remove_join(t: Tester) -> str:
    """REMOVE_ADDR of a joined subflow's address (RFC 8684 §3.4.2): the receiver may probe the path
    with a keepalive, reset or close the subflow, or leave its shutdown to us; it sends no more data
    on it, and the connection goes on."""
    session = established(t)
    flow, _ = join(session, address_id=7)
    removal = session.send_ack(session.flow, RemoveAddr((7,)))
    alternatives = {
        "RST": reset(flow),
        "FIN": lambda s: flow.inbound(s) and s.fin,
        "keepalive probe": lambda s: flow.inbound(s) and not s.payload_len and s.seq == flow.rcv_nxt - 1,
    }
    try:
        answer = t.expect_any(alternatives, 0.5)[0]
    except CaseFailed:
        answer = "nothing (the remover shuts the subflow)"
    if answer != "RST":
        t.send(flow, RST)
    send_rest(session, session.flow)
    summary = session.close()
    late = [s.frame for s in t.from_stack() if s.frame > removal.frame and flow.inbound(s) and s.payload_len]
    if late:
        raise CaseFailed("the stack sent data on the subflow of a removed address", tuple(late))
    return f"REMOVE_ADDR answered with {answer}; {summary}"


def _goes_on(
    *options_of: Callable[[Session], MptcpOption], with_join: bool = False
) -> Callable[[Tester], str]:
    """A case where the stack must carry on: send each option on a pure ACK, then finish the transfer."""

    def body(t: Tester) -> str:
        session = established(t)
        flow = join(session)[0] if with_join else session.flow
        for make in options_of:
            t.send(flow, ACK, (session.ack_option(), make(session)))
        t.expect_silence("RST", lambda s: s.rst, 0.3)
        send_rest(session, session.flow)
        return "ignored as it should be; " + session.close()

    return body


def _fastclose(t: Tester, *, on_rst: bool) -> str:
    session = established(t)
    close = MpFastclose(session.remote_key)
    t.send(session.flow, RST if on_rst else ACK, (close,))
    if not on_rst:
        t.expect("RST answering MP_FASTCLOSE", reset(session.flow))
    outcome = t.app_outcome()
    if not outcome.reset:
        raise CaseFailed(f"the stack's application did not see a reset: {outcome.detail}")
    return "fast close: connection reset, the application saw it"


def _stack_aborts(t: Tester) -> str:
    """The stack's application aborts: MP_FASTCLOSE with our key (RFC 8684 §3.5), then no more data."""
    session = open_session(t)
    session.upload()
    close = t.expect("MP_FASTCLOSE", lambda s: option(s, MpFastclose) is not None, 3.0)
    fast = option(close, MpFastclose)
    if fast is None or fast.receiver_key != session.local_key:
        raise CaseFailed(f"MP_FASTCLOSE carries {fast}, not our key {session.local_key:#x}", (close.frame,))
    if not close.rst:
        t.send(session.flow, RST)
    t.drain(0.2)
    return f"MP_FASTCLOSE with our key on a{' RST' if close.rst else 'n ACK'}"


def _tcprst_case(reason: int, transient: bool) -> Case:
    def body(t: Tester) -> str:
        session = established(t)
        flow, _ = join(session)
        t.send(flow, RST, (MpTcpRst(int(transient), reason),))
        send_rest(session, session.flow)
        return f"MP_TCPRST reason {reason} on the joined subflow; the connection goes on: {session.close()}"

    registered = reason in {int(r) for r in TcpRstReason}
    name = f"tcprst.reason-{reason if registered else 'unregistered'}{'-transient' if transient else ''}"
    text = f"a subflow reset with MP_TCPRST reason {reason}" + (
        "" if registered else " (unregistered: the solver's breaking witness of tcprst.reason)"
    )
    return Case(name, "3.6", text, body)


CASES = (
    *(_add_addr_case(*row) for row in _ADD_ADDRS),
    Case("add-addr.stack-announces", "3.4.1", "the stack's ADD_ADDR carries the right HMAC",
         _stack_announces, StackConfig(announce_alt=True)),
    Case("add-addr.stack-joins-announced", "3.4.1", "an announced address is echoed and may be joined (with "
         "the right token and HMAC)", _stack_joins_announced, role=Role.CLIENT, up=STACK_UPLOAD),
    Case("remove-addr.joined", "3.4.2", "REMOVE_ADDR of a joined subflow's address closes that subflow",
         _remove_join),
    Case("remove-addr.unknown-id", "3.4.2", "REMOVE_ADDR of an unknown address ID is ignored (§3.8)",
         _goes_on(lambda s: RemoveAddr((99,)))),
    Case("mp-prio.backup-initial", "3.3.8", "MP_PRIO backup on the only subflow: the connection goes on",
         _goes_on(lambda s: MpPrio(1))),
    Case("mp-prio.backup-joined", "3.3.8", "MP_PRIO backup, then regular, on a joined subflow",
         _goes_on(lambda s: MpPrio(1), lambda s: MpPrio(0), with_join=True)),
    Case("fastclose.right-key", "3.5", "MP_FASTCLOSE with the stack's key on an ACK: RST, connection gone",
         lambda t: _fastclose(t, on_rst=False)),
    Case("fastclose.right-key-on-rst", "3.5", "MP_FASTCLOSE with the right key on a RST ends the connection",
         lambda t: _fastclose(t, on_rst=True)),
    Case("fastclose.stack-aborts", "3.5", "the stack's application aborts: MP_FASTCLOSE with our key",
         _stack_aborts, StackConfig(abort_after=500)),
    Case("fastclose.wrong-key", "3.5", "MP_FASTCLOSE with a wrong key is ignored",
         _goes_on(lambda s: MpFastclose(s.remote_key ^ 0xFFFF))),
    *(_tcprst_case(int(reason), False) for reason in TcpRstReason),
    _tcprst_case(int(TcpRstReason.UNACCEPTABLE_PERFORMANCE), True),
    _tcprst_case(solve(model("tcprst.reason"), False)["reason"], False),
)  # fmt: skip

"""Cases that send the z3 witnesses (``mptcpspec.conformance.witnesses``) to the stack.

The live conversation pins some fields (our DSN, the subflow's next sequence number, the stack's
window); the solver picks the rest so that the segment keeps the rule, or breaks exactly it.  The stack
must accept what keeps a rule, and must not let what breaks one corrupt the connection: the application
data is checked at the end of each case.
"""

from __future__ import annotations

from ...spec.options import Dss, MpFail
from ...spec.segment import ACK, Segment
from ..stacks.apps import stream
from ..witnesses import model, solve
from .case import Case, CaseFailed
from .fallback import plain_exchange
from .matches import option
from .session import Session, open_session
from .tester import Tester

__all__ = ["CASES"]

_FIRST, _SPLIT = 1000, 600


def _remapped(t: Tester, keep: bool) -> str:
    """A mapping of 1000 bytes sent as 600 bytes, then the other 400 under a second mapping that starts
    inside the first: the solver picks its DSN consistent (``keep``) or not (RFC 8684 §3.3.1).  A stack
    may use either mapping where they agree, and must never deliver bytes at a DSN where they do not;
    the stack's application checks the stream in the end."""
    session = open_session(t)
    flow, data = session.flow, stream(8684, _FIRST)
    first = session.mapping(flow, data)
    ssn1 = first.ssn or 0
    fixed = {"dsn1": session.snd_dsn, "ssn1": ssn1, "len1": _FIRST, "ssn2": ssn1 + _SPLIT}
    values = solve(model("dss.mapping-consistent"), keep, fixed)
    t.send(flow, ACK, (first,), payload=data[:_SPLIT])
    second = Dss(first.data_ack, True, values["dsn2"], True, values["ssn2"], _FIRST - _SPLIT)
    t.send(flow, ACK, (second,), payload=data[_SPLIT:])
    split_dsn = session.snd_dsn + _SPLIT
    session.advance(_FIRST)
    answer = _classify(session, t.drain(0.3), split_dsn)
    what = f"second mapping at DSN {values['dsn2']:#x} ({'consistent' if keep else 'inconsistent'})"
    allowed = _KEEP_ANSWERS if keep else _BREAK_ANSWERS
    if answer not in allowed:
        raise CaseFailed(f"{what}: the stack answered {answer}; allowed: {', '.join(allowed)}")
    if answer in ("RST", "MP_FAIL"):
        return f"{what} answered with {answer}"
    if answer == "fallback":
        return f"{what}: fallback; {plain_exchange(t, flow, _FIRST)}"
    if answer == "DATA_ACK of the consistent part":  # the rejected bytes again, under new subflow numbers
        t.send(flow, ACK, (session.mapping(flow, data[_SPLIT:], dsn=split_dsn),), payload=data[_SPLIT:])
        t.expect("DATA_ACK of the bytes sent again", session.acks_all)
    return f"{what}: {answer}; {session.close()}"


_KEEP_ANSWERS = ("DATA_ACK of all", "DATA_ACK of the consistent part")
_BREAK_ANSWERS = ("DATA_ACK of all", "DATA_ACK of the consistent part", "RST", "MP_FAIL", "fallback")


def _classify(session: Session, replies: list[Segment], split_dsn: int) -> str:
    """What the stack's ``replies`` on the initial subflow amount to."""
    mine = [s for s in replies if session.flow.inbound(s)]
    if any(s.rst for s in mine):
        return "RST"
    if any(option(s, MpFail) is not None for s in mine):
        return "MP_FAIL"
    if any(not s.mptcp for s in mine):
        return "fallback"
    acks = [a for s in mine if (a := session.data_ack_of(s)) is not None]
    if acks and acks[-1] == session.snd_dsn:
        return "DATA_ACK of all"
    if acks and acks[-1] == split_dsn:
        return "DATA_ACK of the consistent part"
    return f"DATA_ACKs {[hex(a) for a in acks]}"


def _outside_inference_window(t: Tester) -> str:
    """A 32-bit DSN whose 64-bit value lies outside the window the receiver infers from (the solver's
    breaking witness, RFC 8684 §3.3.1): nothing may be acknowledged for it."""
    session = open_session(t)
    values = solve(model("dss.dsn32-inference"), False, {"near": session.snd_dsn})
    payload = stream(8684, 100)
    far = session.mapping(session.flow, payload, dsn=values["dsn"], wide=False)
    t.send(session.flow, ACK, (far,), payload=payload)
    t.expect_silence("DATA_ACK moving past our data", lambda s: _acked_beyond(session, s), 0.3)
    session.upload()
    t.expect("DATA_ACK of the data in the window", session.acks_all)
    return f"32-bit DSN {values['dsn'] & 0xFFFFFFFF:#x} (64-bit {values['dsn']:#x}) not acknowledged; " + (
        session.close()
    )


def _acked_beyond(session: Session, segment: Segment) -> bool:
    ack = session.data_ack_of(segment)
    return ack is not None and ack != session.snd_dsn


def _outside_subflow_window(t: Tester) -> str:
    """Data at a subflow sequence number outside the stack's receive window (the solver's breaking
    witness of the window check): dropped, the connection unharmed."""
    session = open_session(t)
    synack = next(s for s in t.from_stack() if s.syn)
    fixed = {"rcv_nxt": session.flow.snd_nxt, "window": synack.window}
    values = solve(model("subflow.state"), False, fixed)
    payload = stream(8684, 100)
    t.send(session.flow, ACK, (session.mapping(session.flow, payload),), payload=payload, seq=values["seq"])
    t.expect_silence("DATA_ACK of out-of-window data", lambda s: _acked_beyond(session, s), 0.3)
    session.upload()
    return f"data at subflow seq {values['seq']:#x} (window {synack.window}) dropped; " + session.close()


def _malformed_dss(t: Tester) -> str:
    """A DSS whose length disagrees with its flags (the solver's breaking witness of the length rule):
    the option is ignored and the connection goes on."""
    session = open_session(t)
    fixed = {"A": 1, "a": 1, "M": 0, "m": 0, "csum": 0}
    values = solve(model("options.malformed"), False, fixed, {"length": (4, 40)})
    raw = bytes((30, values["length"], 0x20, 0x03)) + session.rcv_dsn.to_bytes(8, "big")
    t.send(session.flow, ACK, raw_options=raw[: values["length"]].ljust(values["length"], b"\0"))
    t.expect_silence("RST", lambda s: s.rst, 0.3)
    session.upload()
    return f"DSS of length {values['length']} with flags A,a ignored; " + session.close()


CASES = (
    Case("witness.mapping-consistent-keeps", "3.3.1", "a second mapping inside the first, at the DSN the "
         "solver keeps consistent, is accepted", lambda t: _remapped(t, True)),
    Case("witness.mapping-consistent-breaks", "3.3.1", "a second mapping inside the first at a DSN the "
         "solver made inconsistent never corrupts the data stream", lambda t: _remapped(t, False)),
    Case("witness.dsn32-outside-inference-window", "3.3.1", "a 32-bit DSN that infers outside the window is "
         "not acknowledged", _outside_inference_window),
    Case("witness.subflow-seq-outside-window", "3.3", "subflow data outside the receive window is dropped",
         _outside_subflow_window),
    Case("witness.dss-length-breaks-flags", "3", "a DSS whose length contradicts its flags is ignored",
         _malformed_dss),
)  # fmt: skip

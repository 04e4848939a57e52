"""Every rule of the catalogue, kept and broken.

Each case builds a legal conversation with the project's builder (``Conversation``) and, with
``fault=True``, changes one thing in it.  The legal version must give no violation at all; the faulty
one exactly one rule in violation (the case's), first at the case's frame.  SHOULD rules are judged in
strict mode (else a deviation is only a note), and ``subflow.state`` can only ever be undetermined.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import NamedTuple

import pytest

from mptcpspec.conformance.conversation import Conversation
from mptcpspec.conformance.replay import validate_segments
from mptcpspec.spec.catalogue import CATALOGUE
from mptcpspec.spec.options import (
    AddAddr,
    Dss,
    MpCapable,
    MpJoinSyn,
    MptcpOption,
    MpTcpRst,
    scan_tcp_options,
)
from mptcpspec.spec.rules import Level, Verdict
from mptcpspec.spec.segment import URG, Segment


class Built(NamedTuple):
    segments: Sequence[Segment]
    frame: int  # where the violation must first be reported (ignored when not faulty)


Case = Callable[[bool], Built]
CASES: dict[str, Case] = {}


def case(rule_id: str) -> Callable[[Case], Case]:
    def register(build: Case) -> Case:
        CASES[rule_id] = build
        return build

    return register


def option(conv: Conversation, frame: int, kind: type) -> MptcpOption:
    return next(o for o in conv.segment(frame).mptcp if isinstance(o, kind))


def replaced(conv: Conversation, frame: int, kind: type, **changes: object) -> Conversation:
    return conv.with_option(frame, dataclasses.replace(option(conv, frame, kind), **changes))  # type: ignore[arg-type]


def appended(conv: Conversation, seg: Segment) -> list[Segment]:
    last = conv.segments[-1]
    return [*conv.segments, dataclasses.replace(seg, frame=last.frame + 1, time=last.time + 0.001)]


# --- options and state machines ----------------------------------------------------------------------


@case("options.malformed")
def _malformed(fault: bool) -> Built:
    conv = Conversation(seed=11)
    conv.connect()
    (frame,) = conv.data_ack("B")
    if fault:
        raw = conv.segment(frame).tcp_options + bytes.fromhex("1e0520010000")[:5] + b"\x01\x01\x01"
        options, errors = scan_tcp_options(raw)
        conv = conv.with_segment(frame, tcp_options=raw, mptcp=options, option_errors=errors)
    return Built(conv.segments, frame)


@case("subflow.state")
def _state(fault: bool) -> Built:
    conv = Conversation(seed=12)
    conv.connect()
    conv.send("A", 500)
    conv.send("B", 500)
    if fault:  # a copy of A's SYN turns up after the handshake
        return Built(appended(conv, conv.segment(1)), len(conv.segments) + 1)
    return Built(conv.segments, 0)


# --- RFC 8684 §3.1: MP_CAPABLE -----------------------------------------------------------------------


def _connected(seed: int, **kwargs: object) -> Conversation:
    conv = Conversation(seed=seed, **kwargs)  # type: ignore[arg-type]
    conv.connect()
    return conv


@case("handshake.version")
def _version(fault: bool) -> Built:
    conv = _connected(13)
    conv.send("B", 100)
    return Built((replaced(conv, 3, MpCapable, version=0) if fault else conv).segments, 3)


@case("handshake.key-echo")
def _key_echo(fault: bool) -> Built:
    conv = Conversation(seed=14)
    conv.connect(wrong_key_echo=fault)
    conv.send("B", 100)
    return Built(conv.segments, 3)


@case("handshake.key-repeat")
def _key_repeat(fault: bool) -> Built:
    conv = _connected(15)
    frames = conv.send("A", 3000, span=True)
    mpc = option(conv, frames[1], MpCapable)
    assert isinstance(mpc, MpCapable) and mpc.sender_key is not None
    if fault:
        conv = conv.with_option(frames[1], dataclasses.replace(mpc, sender_key=mpc.sender_key ^ 1))
    return Built(conv.segments, frames[1])


@case("handshake.checksum-flag")
def _checksum_flag(fault: bool) -> Built:
    conv = _connected(16)
    mpc = option(conv, 3, MpCapable)
    assert isinstance(mpc, MpCapable)
    return Built((replaced(conv, 3, MpCapable, flags=mpc.flags | 0x80) if fault else conv).segments, 3)


@case("handshake.hmac-flag")
def _hmac_flag(fault: bool) -> Built:
    conv = _connected(17)
    return Built((replaced(conv, 1, MpCapable, flags=0) if fault else conv).segments, 1)


@case("handshake.extensibility-flag")
def _extensibility(fault: bool) -> Built:
    conv = _connected(18)
    return Built((replaced(conv, 2, MpCapable, flags=0x41) if fault else conv).segments, 2)


@case("handshake.unsolicited")
def _unsolicited(fault: bool) -> Built:
    conv = _connected(19)
    return Built((conv.without_option(1, MpCapable) if fault else conv).segments, 2)


@case("handshake.layout")
def _layout(fault: bool) -> Built:
    conv = _connected(20)
    return Built((replaced(conv, 1, MpCapable, sender_key=0x1234) if fault else conv).segments, 1)


@case("handshake.initial-only")
def _initial_only(fault: bool) -> Built:
    conv = _connected(21)
    conv.send("B", 100)
    frames = conv.join("A")
    if fault:
        conv = conv.with_option(frames[3], option(conv, 3, MpCapable))
    return Built(conv.segments, frames[3])


# --- RFC 8684 §3.2: MP_JOIN --------------------------------------------------------------------------


def _joined(seed: int, fault_knob: str, fault: bool) -> tuple[Conversation, tuple[int, ...]]:
    conv = _connected(seed)
    conv.send("B", 100)
    frames = conv.join("A", **{fault_knob: fault})  # type: ignore[arg-type]
    conv.send("A", 100, subflow=1)
    return conv, frames


@case("join.token")
def _token(fault: bool) -> Built:
    conv, frames = _joined(22, "wrong_token", fault)
    return Built(conv.segments, frames[0])


@case("join.synack-hmac")
def _synack_hmac(fault: bool) -> Built:
    conv, frames = _joined(23, "wrong_synack_hmac", fault)
    return Built(conv.segments, frames[1])


@case("join.ack-hmac")
def _ack_hmac(fault: bool) -> Built:
    conv, frames = _joined(24, "wrong_ack_hmac", fault)
    return Built(conv.segments, frames[2])


@case("join.ack-option")
def _ack_option(fault: bool) -> Built:
    conv, frames = _joined(25, "backup", False)
    from mptcpspec.spec.options import MpJoinAck

    return Built((conv.without_option(frames[2], MpJoinAck) if fault else conv).segments, frames[2])


@case("join.synack-option")
def _synack_option(fault: bool) -> Built:
    conv, frames = _joined(26, "backup", False)
    from mptcpspec.spec.options import MpJoinSynAck

    return Built((conv.without_option(frames[1], MpJoinSynAck) if fault else conv).segments, frames[2])


@case("join.pre-established-data")
def _pre_established(fault: bool) -> Built:
    conv = _connected(27)
    conv.send("B", 100)
    conv.join("A", fourth_ack=not fault)
    frames = conv.send("A", 100, subflow=1)
    return Built(conv.segments, frames[0])


@case("join.c-flag")
def _c_flag(fault: bool) -> Built:
    conv = _connected(28)
    conv.send("B", 100)
    frames = conv.join("A")
    if fault:
        conv = replaced(conv, 2, MpCapable, flags=0x21)
    return Built(conv.segments, frames[0])


@case("join.before-dss")
def _before_dss(fault: bool) -> Built:
    conv = _connected(29)
    if not fault:
        conv.send("B", 100)
    frames = conv.join("A")
    return Built(conv.segments, frames[0])


@case("join.reserved-flags")
def _join_reserved(fault: bool) -> Built:
    conv, frames = _joined(30, "backup", False)
    return Built((replaced(conv, frames[0], MpJoinSyn, flags=0x4) if fault else conv).segments, frames[0])


# --- RFC 8684 §3.3: data sequence signals --------------------------------------------------------------


@case("dss.checksum")
def _checksum(fault: bool) -> Built:
    conv = _connected(31, checksum=True)
    frames = conv.send("B", 1000, wrong_checksum=fault)
    return Built(conv.segments, frames[0])


@case("dss.checksum-missing")
def _checksum_missing(fault: bool) -> Built:
    conv = _connected(32, checksum=True)
    frames = conv.send("B", 1000, omit_checksum=fault, ack=False)
    return Built(conv.segments, frames[0])


@case("dss.checksum-unnegotiated")
def _checksum_unnegotiated(fault: bool) -> Built:
    conv = _connected(33)
    frames = conv.send("B", 1000)
    return Built((replaced(conv, frames[0], Dss, checksum=0x1234) if fault else conv).segments, frames[0])


@case("dss.mapping-consistent")
def _mapping_consistent(fault: bool) -> Built:
    conv = _connected(34)
    frames = conv.send("B", 1000)
    (again, _) = conv.retransmit(frames[0], dsn_delta=5 if fault else 0)
    conv = conv.with_segment(again, payload=b"")  # compare mappings only: the payload is cut
    return Built(conv.segments, again)


@case("dss.data-consistent")
def _data_consistent(fault: bool) -> Built:
    conv = _connected(35)
    conv.send("B", 100)
    conv.join("A")
    first = conv.send("A", 1000, subflow=1, ack=False)
    again = conv.reinject("A", conv.idsn("A") + 1, 1000, subflow=0)
    if fault:
        payload = bytearray(conv.segment(again[0]).payload)
        payload[10] ^= 0xFF
        conv = conv.with_segment(again[0], payload=bytes(payload))
    assert first
    return Built(conv.segments, again[0])


@case("dss.before-idsn")
def _before_idsn(fault: bool) -> Built:
    conv = _connected(36)
    frames = conv.send("B", 100, ack=False)
    idsn = conv.idsn("B")
    return Built((replaced(conv, frames[0], Dss, dsn=idsn) if fault else conv).segments, frames[0])


@case("dss.ack-width")
def _ack_width(fault: bool) -> Built:
    conv = _connected(37)
    conv.send("B", 100)
    frames = conv.data_ack("A", wide=not fault)
    return Built(conv.segments, frames[0])


@case("dss.ssn-zero")
def _ssn_zero(fault: bool) -> Built:
    conv = _connected(38)
    frames = conv.send("B", 100)
    return Built((replaced(conv, frames[0], Dss, ssn=0) if fault else conv).segments, frames[0])


@case("dss.urgent")
def _urgent(fault: bool) -> Built:
    conv = _connected(39, checksum=True)
    frames = conv.send("B", 100)
    flags = conv.segment(frames[0]).flags
    return Built((conv.with_segment(frames[0], flags=flags | URG) if fault else conv).segments, frames[0])


@case("dss.reserved-flags")
def _dss_reserved(fault: bool) -> Built:
    conv = _connected(40)
    frames = conv.send("B", 100)
    return Built((replaced(conv, frames[0], Dss, reserved=0x1) if fault else conv).segments, frames[0])


@case("data-ack.beyond-sent")
def _beyond_sent(fault: bool) -> Built:
    conv = _connected(41)
    conv.send("A", 300)
    frames = conv.data_ack("B", delta=50 if fault else 0)
    return Built(conv.segments, frames[0])


@case("data-ack.before-idsn")
def _ack_before_idsn(fault: bool) -> Built:
    conv = _connected(42)
    frames = conv.data_ack("B", delta=-1 if fault else 0)
    return Built(conv.segments, frames[0])


@case("data-fin.consistent")
def _fin_consistent(fault: bool) -> Built:
    conv = _connected(43)
    conv.send("A", 100)
    first = conv.data_fin("A", ack=False)
    (again,) = conv.retransmit(first[0], dsn_delta=1 if fault else 0, ack=False)
    return Built(conv.segments, again)


@case("data-fin.data-after")
def _fin_data_after(fault: bool) -> Built:
    conv = _connected(44)
    conv.send("A", 100, data_fin=fault, ack=False)
    frames = conv.send("A", 100, ack=False)
    return Built(conv.segments, frames[0])


@case("data-fin.bare-mapping")
def _bare_mapping(fault: bool) -> Built:
    conv = _connected(45)
    conv.send("A", 100)
    frames = conv.data_fin("A")
    return Built((replaced(conv, frames[0], Dss, ssn=7) if fault else conv).segments, frames[0])


# --- RFC 8684 §3.4, §3.3.8, §3.6: paths, priorities, resets -----------------------------------------


@case("add-addr.hmac")
def _add_addr_hmac(fault: bool) -> Built:
    conv = _connected(46)
    conv.send("B", 100)
    frames = conv.add_addr("B", 5, "10.0.9.9", wrong_hmac=fault)
    return Built(conv.segments, frames[0])


@case("add-addr.echo-match")
def _echo_match(fault: bool) -> Built:
    conv = _connected(47)
    conv.send("B", 100)
    frames = conv.add_addr("B", 5, "10.0.9.9")
    return Built(
        (replaced(conv, frames[1], AddAddr, address="10.0.9.8") if fault else conv).segments, frames[1]
    )


@case("add-addr.id-reuse")
def _id_reuse(fault: bool) -> Built:
    conv = _connected(48)
    conv.send("B", 100)
    conv.add_addr("B", 5, "10.0.9.9")
    if not fault:
        conv.remove_addr("B", (5,))
    frames = conv.add_addr("B", 5, "10.0.9.7")
    return Built(conv.segments, frames[0])


@case("add-addr.reserved-flags")
def _add_addr_reserved(fault: bool) -> Built:
    conv = _connected(49)
    conv.send("B", 100)
    frames = conv.add_addr("B", 5, "10.0.9.9")
    return Built((replaced(conv, frames[1], AddAddr, reserved=0x2) if fault else conv).segments, frames[1])


@case("add-addr.dupack-signal")
def _dupack_signal(fault: bool) -> Built:
    conv = _connected(50)
    conv.send("B", 100)
    conv.add_addr("B", 5, "10.0.9.5", echo=False)
    if not fault:
        conv.send("B", 100)
    conv.add_addr("B", 6, "10.0.9.6", echo=False)
    frames = conv.add_addr("B", 7, "10.0.9.7", echo=False)
    return Built(conv.segments, frames[0])


@case("prio.layout")
def _prio_layout(fault: bool) -> Built:
    conv = _connected(51)
    conv.send("B", 100)
    frames = conv.mp_prio("A", address_id=0 if fault else None)
    return Built(conv.segments, frames[0])


@case("tcprst.reason")
def _tcprst_reason(fault: bool) -> Built:
    conv = _connected(52)
    conv.send("B", 100)
    conv.join("A")
    frames = conv.tcp_rst("A", subflow=1, reason=0x42 if fault else 0x05)
    return Built(conv.segments, frames[0])


@case("tcprst.reserved-flags")
def _tcprst_reserved(fault: bool) -> Built:
    conv = _connected(53)
    conv.send("B", 100)
    conv.join("A")
    frames = conv.tcp_rst("A", subflow=1, reason=0x01)
    return Built((replaced(conv, frames[0], MpTcpRst, flags=0x8) if fault else conv).segments, frames[0])


@case("tcprst.on-rst")
def _tcprst_on_rst(fault: bool) -> Built:
    conv = _connected(54)
    conv.send("B", 100)
    frames = conv.data_ack("A")
    if fault:
        conv = conv.with_option(frames[0], MpTcpRst(0, 1))
    return Built(conv.segments, frames[0])


# --- RFC 8684 §3.5, §3.7, §3.3.3: fast close, fallback, closing -----------------------------------------


@case("fastclose.key")
def _fastclose_key(fault: bool) -> Built:
    conv = _connected(55)
    conv.send("B", 100)
    frames = conv.fastclose("A", wrong_key=fault)
    return Built(conv.segments, frames[0])


@case("fastclose.data-after")
def _fastclose_data_after(fault: bool) -> Built:
    conv = _connected(56)
    conv.send("B", 100)
    data = conv.send("A", 100, ack=False)
    (close, *_) = conv.fastclose("A", rst=False)
    if fault:  # A sends new data on the subflow after its MP_FASTCLOSE
        old = conv.segment(data[0])
        later = dataclasses.replace(old, seq=conv.segment(close).seq, ack=conv.segment(close).ack)
        return Built(appended(conv, later), len(conv.segments) + 1)
    return Built(conv.segments, 0)


@case("fallback.mptcp-after-fallback")
def _after_fallback(fault: bool) -> Built:
    conv = Conversation(seed=57)
    conv.connect(fallback=True)
    conv.send("A", 100)
    if fault:
        conv = conv.with_option(3, Dss(data_ack=12345))
    return Built(conv.segments, 3)


@case("fallback.single-subflow")
def _single_subflow(fault: bool) -> Built:
    conv = _connected(58, checksum=True)
    conv.send("B", 100)
    conv.join("A")
    conv.mp_fail("B", subflow=0)
    conv.infinite_mapping("A", 300, subflow=0)
    frames = conv.send("A", 100, subflow=1 if fault else 0)
    return Built(conv.segments, frames[0])


@case("fallback.fail-reply")
def _fail_reply(fault: bool) -> Built:
    conv = _connected(59, checksum=True)
    conv.send("A", 100)
    frames = conv.mp_fail("B", respond=not fault)
    return Built(conv.segments, frames[0])


@case("close.last-subflow")
def _last_subflow(fault: bool) -> Built:
    conv = _connected(60)
    conv.send("A", 1000, ack=not fault)
    frames = conv.close_subflow(0)
    return Built(conv.segments, frames[0])


def test_every_rule_has_a_case() -> None:
    assert sorted(CASES) == sorted(CATALOGUE)


def _judge(build: Case, rule_id: str, fault: bool) -> tuple[list[tuple[str, int]], list[str]]:
    built = build(fault)
    strict = CATALOGUE[rule_id].level is not Level.MUST
    report = validate_segments(built.segments, complete=True, strict=strict)
    violations = [(f.rule.id, f.frames[0] if f.frames else 0) for f in report.findings if f.is_violation]
    undetermined = [f.rule.id for f in report.findings if f.verdict is Verdict.UNDETERMINED]
    return violations, undetermined


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_holds_on_a_legal_conversation(rule_id: str) -> None:
    violations, undetermined = _judge(CASES[rule_id], rule_id, fault=False)
    assert violations == []
    assert rule_id not in undetermined


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_broken_is_reported_alone_at_its_frame(rule_id: str) -> None:
    built = CASES[rule_id](True)
    violations, undetermined = _judge(CASES[rule_id], rule_id, fault=True)
    if rule_id == "subflow.state":
        assert violations == [] and rule_id in undetermined
        return
    assert {rule for rule, _ in violations} == {rule_id}
    assert violations[0][1] == built.frame

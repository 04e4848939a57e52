"""The monitor as a whole: findings policy, observer events, v0 (RFC 6824), partial views."""

from __future__ import annotations

import dataclasses

import pytest

from mptcpspec.conformance.conversation import Conversation
from mptcpspec.spec.events import MonitorEvent
from mptcpspec.spec.monitor import ConnectionMonitor
from mptcpspec.spec.options import MpCapable, MpTcpRst, scan_tcp_options
from mptcpspec.spec.rules import Finding, Verdict
from mptcpspec.spec.segment import Segment


def run(conv: Conversation, *, start: int = 1, **kwargs: object) -> tuple[ConnectionMonitor, list[Finding]]:
    """Feed the conversation's segments from frame ``start`` to one monitor, A being the initiator."""
    monitor = ConnectionMonitor("c1", **kwargs)  # type: ignore[arg-type]
    findings: list[Finding] = []
    for seg in conv.segments[start - 1 :]:
        findings += monitor.step(seg, conv.side_of(seg.frame) == "A")
    return monitor, findings + monitor.finish()


def violations(findings: list[Finding]) -> list[tuple[str, int]]:
    return [(f.rule.id, f.frames[0]) for f in findings if f.is_violation]


def full_conversation(version: int, checksum: bool) -> Conversation:
    conv = Conversation(seed=5, version=version, checksum=checksum)
    conv.connect()
    conv.send("A", 2000)
    conv.send("B", 3000, span=True)
    conv.join("A", backup=True)
    conv.send("B", 4000, subflow=1)
    conv.add_addr("B", 7, "10.0.7.7")
    conv.mp_prio("A", subflow=1, backup=False)
    conv.reinject("B", conv.idsn("B") + 1, 1000, subflow=1)
    conv.remove_addr("B", (7,))
    conv.close()
    return conv


@pytest.mark.parametrize(("version", "checksum"), [(1, False), (1, True), (0, False), (0, True)])
def test_a_legal_conversation_is_clean_and_fully_known(version: int, checksum: bool) -> None:
    conv = full_conversation(version, checksum)
    monitor, findings = run(conv, complete=True)
    assert [f for f in findings if f.verdict is not Verdict.NOTE] == []
    conn = monitor.conn
    assert conn.version == version and conn.checksums is checksum
    assert conn.keys == [conv.keys["A"], conv.keys["B"]]
    assert conn.token == [conv.token("A"), conv.token("B")]
    assert monitor.state == "A time-wait, B closed"
    assert [s.kind for s in monitor.subflows.values()] == ["initial", "join"]
    assert monitor.data[0].data_bytes() == 2000 and monitor.data[1].data_bytes() == 7000
    assert monitor.judge.checks > 50


@pytest.mark.parametrize("version", [0, 1])
def test_v0_and_v1_faults_are_caught_with_their_own_hash(version: int) -> None:
    conv = Conversation(seed=6, version=version)
    conv.connect(wrong_key_echo=True)
    conv.send("B", 100)
    conv.join("A", wrong_synack_hmac=True)
    _, findings = run(conv, complete=True)
    assert violations(findings) == [("handshake.key-echo", 3), ("join.synack-hmac", 7)]


def test_v0_keys_come_from_the_syns() -> None:
    conv = Conversation(seed=8, version=0)
    conv.connect()
    monitor, _ = run(conv)
    mpc = conv.segment(1).mptcp[0]
    assert isinstance(mpc, MpCapable) and mpc.sender_key == conv.keys["A"]
    assert monitor.conn.keys == [conv.keys["A"], conv.keys["B"]]


def test_capture_started_mid_connection_leaves_key_checks_undetermined() -> None:
    conv = Conversation(seed=9)
    conv.connect()
    conv.send("A", 500)
    conv.send("B", 500)
    frames = conv.add_addr("B", 4, "10.0.4.4")
    conv.send("A", 500)
    monitor, findings = run(conv, start=frames[0] - 2)
    assert violations(findings) == []
    assert monitor.conn.keys == [None, None] and monitor.conn.phase.value == "established"
    undetermined = {f.rule.id for f in findings if f.verdict is Verdict.UNDETERMINED}
    assert undetermined == {"add-addr.hmac"}


def test_should_rules_are_notes_unless_strict() -> None:
    conv = Conversation(seed=10)
    conv.connect()
    conv.send("B", 100)
    conv.join("A")
    conv.tcp_rst("A", subflow=1, reason=0x42)
    _, lenient = run(conv)
    assert violations(lenient) == []
    (note,) = [f for f in lenient if f.rule.id == "tcprst.reason"]
    assert note.verdict is Verdict.NOTE and note.message.startswith("deviates from a SHOULD")
    _, strict = run(conv, strict=True)
    assert violations(strict) == [("tcprst.reason", conv.segments[-1].frame)]


def test_rule_selection_and_repeated_findings_are_capped() -> None:
    conv = Conversation(seed=11)
    conv.connect()
    frames = conv.send("B", 30 * 1400)
    for frame in frames[:-1]:
        conv = conv.with_option(frame, dataclasses.replace(conv.segment(frame).mptcp[0], reserved=1))  # type: ignore[arg-type]
    _, findings = run(conv)
    reserved = [f for f in findings if f.rule.id == "dss.reserved-flags"]
    assert len([f for f in reserved if f.is_violation]) == 20
    (overflow,) = [f for f in reserved if f.verdict is Verdict.NOTE]
    assert "10 more violation" in overflow.message
    _, filtered = run(conv, rules=lambda rule_id: not rule_id.startswith("dss."))
    assert [f for f in filtered if f.rule.id.startswith("dss.")] == []


def test_observer_sees_transitions_data_and_acks() -> None:
    conv = Conversation(seed=12)
    conv.connect()
    conv.send("A", 3000)
    conv.close()
    events: list[MonitorEvent] = []
    run(conv, observer=events.append)
    kinds = {e.kind for e in events}
    assert kinds == {"transition", "data", "data_ack"}
    machines = {e.machine for e in events if e.kind == "transition"}
    assert machines == {"connection", "subflow", "close-A", "close-B"}
    data = [e for e in events if e.kind == "data"]
    assert data[0].dsn == 1 and sum(e.length for e in data) == 3000  # relative to A's IDSN
    assert max(e.dsn or 0 for e in events if e.kind == "data_ack" and e.direction == "B>A") == 3002
    assert data[0].to_dict()["direction"] == "A>B" and "machine" not in data[0].to_dict()


def test_malformed_option_is_reported_not_raised() -> None:
    conv = Conversation(seed=13)
    conv.connect()
    (frame,) = conv.data_ack("B")
    raw = bytes.fromhex("1e0c20")  # a DSS that claims 12 bytes and has 3
    options, errors = scan_tcp_options(raw)
    conv = conv.with_segment(frame, tcp_options=raw, mptcp=options, option_errors=errors)
    _, findings = run(conv)
    assert violations(findings) == [("options.malformed", frame)]


def test_a_finding_never_raises_on_odd_input() -> None:
    monitor = ConnectionMonitor("c")
    weird = Segment(1, 0.0, 4, "a", "b", 1, 2, 0, 0, 0xFF, 0, 10, mptcp=(MpTcpRst(0xF, 0xFF),))
    findings = monitor.step(weird, True) + monitor.step(dataclasses.replace(weird, frame=2), False)
    assert {f.rule.id for f in findings} >= {"tcprst.reserved-flags"}


def test_a_syn_offering_a_later_version_may_be_answered_with_v1() -> None:
    conv = Conversation(seed=14)
    conv.connect()
    conv.send("B", 100)
    raw = bytes((30, 4, 0x02, 0x01))  # MP_CAPABLE version 2, flag H
    options, errors = scan_tcp_options(raw)
    assert errors and not options
    conv = conv.with_segment(1, tcp_options=raw, mptcp=options, option_errors=errors)
    monitor, findings = run(conv, complete=True)
    assert violations(findings) == []
    assert [f.verdict for f in findings if f.rule.id == "options.malformed"] == [Verdict.NOTE]
    assert monitor.conn.version == 1 and monitor.conn.phase.value == "established"

"""The fallback of RFC 8684 §3.7 that no option announces (``mptcpspec.spec.fallback``).

Conversations from the project's builder in which a middlebox on B's path strips MPTCP options after
the handshake: B acknowledges A's first data without a DATA_ACK, and once A has acknowledged B's data it
provably knows, so it may send one infinite mapping and then no MPTCP option.
"""

from __future__ import annotations

from mptcpspec.conformance.conversation import Conversation
from mptcpspec.conformance.replay import validate_segments
from mptcpspec.spec.connection import ConnPhase
from mptcpspec.spec.monitor import ConnectionMonitor
from mptcpspec.spec.segment import Segment

RULE = "fallback.mptcp-after-fallback"


def _stripped(conv: Conversation, side: str, after: int) -> Conversation:
    """Every MPTCP option of ``side``'s segments after frame ``after`` removed (an option-stripping
    middlebox on its path)."""
    for seg in conv.segments[after:]:
        if conv.side_of(seg.frame) == side:
            conv = conv.with_segment(seg.frame, mptcp=(), tcp_options=b"")
    return conv


def _violations(segments: tuple[Segment, ...] | list[Segment]) -> list[tuple[str, tuple[int, ...]]]:
    report = validate_segments(segments, strict=True)
    return [(f.rule.id, f.frames) for f in report.findings if f.is_violation]


def _acked_without_data_ack(seed: int) -> tuple[Conversation, int]:
    """A sends data, B ACKs it and sends data of its own with its options stripped, A ACKs B's data:
    the frame of that ACK (from which A knows of the fallback)."""
    conv = Conversation(seed=seed)
    conv.connect()
    conv.send("A", 100)
    _b_data, a_ack = conv.send("B", 100)
    return _stripped(conv, "B", 3), a_ack


def test_options_after_knowing_are_a_violation() -> None:
    conv, known = _acked_without_data_ack(71)
    data = conv.send("A", 100)
    conv = _stripped(conv, "B", 3)
    found = _violations(conv.segments)
    assert found and all(rule == RULE for rule, _ in found)
    assert found[0][1] == (known, known)  # its ACK of B's data already carries a DATA_ACK
    assert {frames[0] for _, frames in found} >= {data[0]}


def test_infinite_mapping_then_plain_tcp_is_the_allowed_fallback() -> None:
    conv, known = _acked_without_data_ack(72)
    conv = conv.with_segment(known, mptcp=(), tcp_options=b"")
    conv.infinite_mapping("A", 100)
    conv = _stripped(conv, "B", 3)
    report = validate_segments(conv.segments, strict=True)
    assert [f for f in report.findings if f.is_violation] == []
    (summary,) = report.connections
    assert summary.fallback is not None and "without a DATA_ACK" in summary.fallback


def test_a_confirmed_sender_does_not_fall_back() -> None:
    """B's first ACK carried a DATA_ACK: a later ACK without one does not make A fall back."""
    conv = Conversation(seed=73)
    conv.connect()
    conv.send("A", 100)
    first_ack = len(conv.segments)
    conv.send("B", 100)
    conv.send("A", 100)
    conv = _stripped(conv, "B", first_ack)
    assert _violations(conv.segments) == []


def test_nothing_is_concluded_when_the_capture_missed_packets() -> None:
    """A segment of A's first data is not in the capture: a DATA_ACK may have gone missing too."""
    conv = Conversation(seed=74)
    conv.connect()
    first = conv.send("A", 3000, ack=False)
    conv.send("B", 100)
    conv.send("A", 100)
    conv = _stripped(conv, "B", 3)
    segments = [s for s in conv.segments if s.frame != first[1]]
    assert _violations(segments) == []
    assert _violations(conv.segments), "the same conversation, fully captured, is a violation"


def test_nothing_is_concluded_once_a_second_subflow_exists() -> None:
    conv = Conversation(seed=75)
    conv.connect()
    joined = conv.join("A")
    conv.send("A", 100)
    conv.send("B", 100)
    conv.send("A", 100)
    conv = _stripped(conv, "B", joined[-2])  # B's options are gone from its fourth ACK of the join on
    assert RULE not in {rule for rule, _ in _violations(conv.segments)}


def test_a_pure_ack_without_data_ack_proves_nothing_about_what_a_received() -> None:
    """B's ACK without a DATA_ACK carries no payload: A's later options are not judged."""
    conv = Conversation(seed=76)
    conv.connect()
    conv.send("A", 100)
    conv.send("A", 100)
    conv = _stripped(conv, "B", 3)
    assert _violations(conv.segments) == []


def test_the_monitor_enters_fallback_when_the_sender_knows() -> None:
    conv, known = _acked_without_data_ack(77)
    monitor = ConnectionMonitor("c1", strict=True)
    for seg in conv.segments:
        monitor.step(seg, conv.side_of(seg.frame) == "A")
        phase = monitor.conn.phase
        assert (phase is ConnPhase.FALLBACK) == (seg.frame >= known), seg.frame
    assert monitor.conn.fallback_since[0] == known

"""Payload on segments without a DSS: bytes of the mapping a previous segment announced (RFC 8684 §3.3.1)."""

from __future__ import annotations

import dataclasses

from mptcpspec.conformance.conversation import Conversation
from mptcpspec.conformance.replay import validate_segments
from mptcpspec.spec.crypto import dss_checksum
from mptcpspec.spec.options import Dss


def _spanning(*, wrong_checksum: bool = False) -> Conversation:
    conv = Conversation(seed=1, checksum=True)
    conv.connect()
    conv.send("B", 3000, span=True, repeat_dss=False, wrong_checksum=wrong_checksum)
    conv.close()
    return conv


def test_data_on_segments_without_dss_counts_as_sent() -> None:
    report = validate_segments(_spanning().segments, complete=True)
    assert [(f.rule.id, f.verdict.value) for f in report.findings] == []
    assert report.connections[0].data_bytes[1] == 3000


def test_checksum_of_a_mapping_announced_once_covers_every_segment() -> None:
    conv = _spanning(wrong_checksum=True)
    carriers = [s.frame for s in conv.segments if s.payload_len and s.sport == conv.segments[1].sport]
    assert len(carriers) > 1  # the mapping really spans several segments
    report = validate_segments(conv.segments)
    violations = [(f.rule.id, f.frames[0]) for f in report.findings if f.is_violation]
    assert violations == [("dss.checksum", carriers[-1])]


def _reinjected() -> tuple[Conversation, int, int]:
    """Checksums on, A sends 1000 bytes on the first subflow, then re-sends them on a second one;
    returns the conversation and the frames of the first and the second copy."""
    conv = Conversation(seed=3, checksum=True)
    conv.connect()
    conv.join("A")
    (first, *_) = conv.send("A", 1000, ack=False)
    start = conv.data_range(first)
    assert start is not None
    (again, *_) = conv.reinject("A", start[0], 1000, subflow=1)
    conv.close()
    return conv, first, again


def _changed(conv: Conversation, frame: int, *, checksummed: bool) -> Conversation:
    """``frame`` with its first payload byte flipped, as a middlebox would (the DSS checksum kept) or as
    its sender would (``checksummed``: the DSS checksum made to fit the new bytes)."""
    seg = conv.segment(frame)
    payload = bytes([seg.payload[0] ^ 0xFF]) + seg.payload[1:]
    changed = conv.with_segment(frame, payload=payload)
    if checksummed:
        dss = next(o for o in seg.mptcp if isinstance(o, Dss))
        assert dss.dsn is not None and dss.ssn is not None and dss.data_level_length is not None
        checksum = dss_checksum(dss.dsn, dss.ssn, dss.data_level_length, payload)
        changed = changed.with_option(frame, dataclasses.replace(dss, checksum=checksum))
    return changed


def _consistency(conv: Conversation) -> list[tuple[str, int]]:
    report = validate_segments(conv.segments)
    return [(f.rule.id, f.frames[0]) for f in report.findings if f.rule.id == "dss.data-consistent"]


def test_a_copy_changed_on_the_way_is_left_to_the_checksum() -> None:
    conv, first, again = _reinjected()
    assert _consistency(conv) == []
    for frame in (first, again):  # either copy changed by a middlebox: its checksum fails, no breach
        changed = _changed(conv, frame, checksummed=False)
        assert _consistency(changed) == []
        checksum = [f for f in validate_segments(changed.segments).findings if f.rule.id == "dss.checksum"]
        assert checksum, "the failing checksum is reported instead"


def test_a_copy_its_sender_changed_breaks_data_consistency() -> None:
    conv, _, again = _reinjected()
    assert _consistency(_changed(conv, again, checksummed=True)) == [("dss.data-consistent", again)]


def test_a_capture_starting_at_the_data_fin_reads_32_bit_data_acks_near_it() -> None:
    """Seen live (a capture started late): B's bare DATA_FIN, with a 64-bit DSN above 2^63, then A's
    32-bit DATA_ACK of earlier data.  It is below the DATA_FIN, not beyond it (RFC 8684 §3.3.2)."""
    conv = Conversation(seed=91)  # B's DSNs lie above 2^63
    conv.connect()
    conv.send("B", 3000)
    fin, ack = conv.data_fin("B", ack=True)
    dsn = next(o for o in conv.segment(fin).mptcp if type(o) is Dss).dsn
    assert dsn is not None and dsn >= 2**63
    conv = conv.with_option(ack, Dss(data_ack=(dsn - 500) % 2**32))
    report = validate_segments([s for s in conv.segments if s.frame >= fin])
    assert [f for f in report.findings if f.is_violation] == []
    late_ack = conv.with_option(ack, Dss(data_ack=(dsn + 2) % 2**32))  # one past the DATA_FIN's ack
    report = validate_segments([s for s in late_ack.segments if s.frame >= fin])
    assert [f.rule.id for f in report.findings if f.is_violation] == ["data-ack.beyond-sent"]

"""Payload on segments without a DSS: bytes of the mapping a previous segment announced (RFC 8684 §3.3.1)."""

from __future__ import annotations

from mptcpspec.conformance.conversation import Conversation
from mptcpspec.conformance.replay import validate_segments


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

"""The capture judge: feature predicates on crafted segments, and ``check`` failing where it must."""

from __future__ import annotations

from pathlib import Path

from mptcpspec.conformance.stacks.expectations import FEATURES, MustShow, check, fell_back, observe
from mptcpspec.conformance.stacks.linux import Netns
from mptcpspec.conformance.stacks.processes import Tcpdump
from mptcpspec.conformance.stacks.scenarios import SCENARIOS
from mptcpspec.spec.options import Dss, MpCapable, MpPrio, MptcpOption
from mptcpspec.spec.segment import ACK, SYN, Segment

TRACES = Path(__file__).resolve().parents[3] / "traces"


def _segment(sport: int, payload_len: int, *options: MptcpOption, flags: int = ACK, seq: int = 1) -> Segment:
    return Segment(
        0, 0.0, 4, "10.0.0.1", "10.0.0.2", sport, 80, seq, 1, flags, 100, payload_len, mptcp=options
    )


def _holds(feature: str, segments: list[Segment]) -> bool:
    return FEATURES[feature][1](segments)


def test_reinjection_needs_the_same_data_on_two_subflows() -> None:
    first = _segment(1000, 100, Dss(dsn=5000, ssn=1, data_level_length=100))
    again_elsewhere = _segment(2000, 100, Dss(dsn=5050, ssn=1, data_level_length=100))
    next_elsewhere = _segment(2000, 100, Dss(dsn=5100, ssn=1, data_level_length=100))
    assert _holds("reinjection", [first, again_elsewhere])
    assert not _holds("reinjection", [first, next_elsewhere])
    assert not _holds(
        "reinjection", [first, _segment(1000, 100, Dss(dsn=5000, ssn=1, data_level_length=100))]
    )


def test_a_data_fin_on_every_subflow_is_no_reinjection() -> None:
    fins = [_segment(port, 0, Dss(dsn=9000, ssn=0, data_level_length=1, data_fin=True)) for port in (1, 2)]
    assert not _holds("reinjection", fins)


def test_retransmission_is_a_repeated_sequence_number_with_data() -> None:
    assert _holds("retransmissions", [_segment(1000, 10, seq=7), _segment(1000, 10, seq=7)])
    assert not _holds("retransmissions", [_segment(1000, 10, seq=7), _segment(1000, 10, seq=17)])
    assert not _holds("retransmissions", [_segment(1000, 0, seq=7), _segment(1000, 0, seq=7)])


def test_mp_prio_flips_needs_both_values() -> None:
    assert _holds("mp-prio-flips", [_segment(1, 0, MpPrio(flags=1)), _segment(1, 0, MpPrio(flags=0))])
    assert not _holds("mp-prio-flips", [_segment(1, 0, MpPrio(flags=1))])


def test_super_segments_are_longer_than_the_link_mtu() -> None:
    assert _holds("super-segments", [_segment(1, 2896)])
    assert _holds("no-super-segments", [_segment(1, 1448)])


def test_data_without_a_mapping_after_mp_capable_is_a_fallback() -> None:
    syn = _segment(1000, 0, MpCapable(version=1, flags=1), flags=SYN)
    mapped = _segment(1000, 10, Dss(dsn=1, ssn=1, data_level_length=10))
    assert not fell_back([syn, mapped])
    assert fell_back([syn, _segment(1000, 10)])
    assert not fell_back([_segment(1000, 10)])  # plain TCP from the start is no fallback


def test_check_lists_every_shortfall() -> None:
    observation = observe(TRACES / "single-fin.pcap")
    wanted = MustShow(
        ("MP_JOIN",), min_subflows=2, fallback=True, linktype="linux-sll2", features=("reinjection",)
    )
    problems = check(observation, wanted)
    assert problems == [
        "no MP_JOIN option",
        "1 subflow(s) with MPTCP options, expected at least 2",
        "fallback to TCP is False, expected True",
        "link type ethernet, expected linux-sll2",
        "missing feature reinjection: data mapped on two subflows",
    ]
    assert check(observation, SCENARIOS["single-fin"].must_show) == []


def test_tcpdump_drop_count_is_read_from_its_summary() -> None:
    capture = Tcpdump(Netns("unused"), "any", Path("/nonexistent.pcap"))
    assert capture.dropped == 0
    capture.stats = "35 packets captured 35 packets received by filter 3 packets dropped by kernel"
    assert capture.dropped == 3

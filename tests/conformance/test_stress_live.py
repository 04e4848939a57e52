"""Soundness under stress: real kernel MPTCP, loaded and impaired, seen from many vantage points.

Each case of ``stacks.stress.STRESS`` runs in fresh namespaces while several tcpdumps record it (client
and server side, ``-i any`` with GSO/GRO super-segments or one path's interface, snaplen 60/96/200/
65535, started late or stopped early).  The kernel is taken as conformant, so every capture must
validate with no violation; the first vantage must also show what the case is about (joins, losses,
MP_PRIO, ...), so that a clean verdict is not a vacuous one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mptcpspec.capture import open_capture
from mptcpspec.conformance.replay import validate_file, validate_segments
from mptcpspec.conformance.stacks.expectations import check, observe
from mptcpspec.conformance.stacks.stress import STRESS, capture_stress

pytestmark = pytest.mark.root

Verdict = Callable[[Path], list[str]]
_SINGLE = [name for name, case in STRESS.items() if case.connections == 1]


@pytest.mark.parametrize("name", _SINGLE)
def test_stress_capture_has_no_violation(name: str, tmp_path: Path, trace_verdict: Verdict) -> None:
    case = STRESS[name]
    files = capture_stress(case, tmp_path)
    assert check(observe(files[case.vantages[0].name]), case.scenario.must_show) == []
    for vantage, path in files.items():
        assert path.exists(), f"{vantage}: tcpdump wrote nothing"
        assert trace_verdict(path) == [], vantage


@pytest.fixture(scope="module")
def port_reuse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return capture_stress(STRESS["port-reuse"], tmp_path_factory.mktemp("port-reuse"))


def test_port_reuse_has_no_violation(port_reuse: dict[str, Path], trace_verdict: Verdict) -> None:
    for vantage, path in port_reuse.items():
        assert trace_verdict(path) == [], vantage


def test_port_reuse_validates_every_connection(port_reuse: dict[str, Path]) -> None:
    connections = STRESS["port-reuse"].connections
    for vantage, path in port_reuse.items():
        report = validate_file(path)
        assert len(report.connections) == connections, vantage


def test_port_reuse_captured_from_the_second_packet_has_no_violation(port_reuse: dict[str, Path]) -> None:
    for vantage, path in port_reuse.items():
        segments = list(open_capture(path).segments())[1:]
        report = validate_segments(segments)
        assert [(f.rule.id, f.frames) for f in report.findings if f.is_violation] == [], vantage

"""The case machinery: registry, runner statuses, expectations, summary and JUnit (no root needed).

The stack here is the project's reference endpoint, in-process: a real MPTCP implementation, so the
runner is exercised on real conversations without a kernel.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mptcpspec.capture import open_capture
from mptcpspec.conformance.conform import (
    format_result,
    format_summary,
    junit_xml,
    load_expectations,
    make_stack,
    run_suite,
    select_cases,
)
from mptcpspec.conformance.stacks.reference import ReferenceStack
from mptcpspec.conformance.suite import SANITY, all_cases
from mptcpspec.conformance.suite.case import Case, CaseFailed, CaseUnsupported, Status
from mptcpspec.conformance.suite.dss import WRAP_KEY
from mptcpspec.conformance.suite.tester import Tester
from mptcpspec.spec.crypto import key_idsn
from mptcpspec.spec.segment import SYN


def test_registry() -> None:
    cases = all_cases()
    names = [c.name for c in cases]
    assert len(names) == len(set(names)) >= 60
    assert cases[0] is SANITY
    sections = {c.section for c in cases}
    assert {
        "3.1",
        "3.2",
        "3.3.1",
        "3.3.2",
        "3.3.3",
        "3.3.8",
        "3.4.1",
        "3.4.2",
        "3.5",
        "3.6",
        "3.7",
    } <= sections
    assert all(c.description and "." in c.name for c in cases)


def test_make_stack() -> None:
    assert make_stack("linux").name == "linux"
    assert make_stack("reference").name == "reference"
    command = make_stack("command:my-server --port {port}")
    assert command.name == "command"
    with pytest.raises(ValueError):
        make_stack("bsd")
    with pytest.raises(ValueError):
        make_stack("command:  ")


def test_select_cases() -> None:
    assert {c.name for c in select_cases("mp-join.")} >= {"mp-join.valid", "mp-join.unknown-token"}
    assert [c.name for c in select_cases("dss.dsn32-wrap")] == ["dss.dsn32-wrap"]
    assert all(c.name.startswith("fallback.") for c in select_cases("fallback.*"))


def test_wrap_key_crosses_2_32_early() -> None:
    """The tester's first DSN with WRAP_KEY is a few KB below a multiple of 2^32."""
    first = (key_idsn(WRAP_KEY) + 1) % (1 << 32)
    assert (1 << 32) - 8000 < first < (1 << 32)


def test_expectations_files() -> None:
    names = {c.name for c in all_cases()}
    for stack in ("linux", "reference"):
        deviations = load_expectations(stack)
        assert deviations, stack
        for name, deviation in deviations.items():
            assert name in names
            assert deviation.clause.startswith("RFC 8684 §") and deviation.evidence
    assert load_expectations("no-such-stack") == {}


def _stub(outcome: str) -> Case:
    """A case whose body sends a SYN and then ends as ``outcome`` says."""

    def body(t: Tester) -> str:
        t.start_app()
        t.send(t.new_flow(), SYN)
        if outcome == "fail":
            t.expect("a segment that never comes", lambda s: False, 0.05)
        if outcome == "unsupported":
            raise CaseUnsupported("not here")
        return "fine"

    return Case(f"stub.{outcome}", "3.1", f"ends {outcome}", body)


def test_runner_statuses_and_reports(tmp_path: Path) -> None:
    lines: list[str] = []
    cases = [_stub("pass"), _stub("fail"), _stub("unsupported")]
    suite = run_suite(ReferenceStack(), cases=cases, capture_dir=tmp_path, log=lines.append)
    by_name = {r.case.name: r for r in suite.results}
    assert by_name[SANITY.name].status is Status.PASSED
    assert by_name["stub.pass"].status is Status.PASSED
    failed = by_name["stub.fail"]
    assert failed.status is Status.FAILED and "never comes" in failed.message
    assert by_name["stub.unsupported"].status is Status.UNSUPPORTED
    assert suite.failed and len(lines) == 4
    assert "FAILED" in format_result(failed)
    summary = format_summary(suite)
    assert "§3.1" in summary and "total" in summary
    root = ET.fromstring(junit_xml(suite))
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "1", "1")
    capture = by_name["stub.pass"].capture
    assert capture is not None
    segments = list(open_capture(capture).segments())
    assert segments[0].syn and len(segments) >= 2  # our SYN and the endpoint's SYN/ACK


def test_sanity_failure_skips_the_rest() -> None:
    def broken(t: Tester) -> str:
        raise CaseFailed("broken on purpose")

    sanity = Case("sanity.broken", "3.1", "fails", broken)
    suite = run_suite(ReferenceStack(), cases=[_stub("pass")], sanity=sanity)
    assert [r.status for r in suite.results] == [Status.FAILED, Status.SKIPPED]


def test_expected_deviation_does_not_fail_the_run() -> None:
    deviating = Case("dss.bad-checksum", "3.7", "stand-in for the listed case", _stub("fail").body)
    suite = run_suite(ReferenceStack(), cases=[deviating])
    result = suite.results[1]
    assert result.status is Status.DEVIATION and result.deviation is not None
    assert not suite.failed
    assert "known deviation" in format_result(result)


@pytest.mark.parametrize("pattern", ["mp-capable.v0-offered", "mp-join.bad-ack-hmac", "add-addr.bad-hmac"])
def test_cases_against_reference(pattern: str) -> None:
    suite = run_suite(ReferenceStack(), pattern=pattern)
    assert [r.status for r in suite.results] == [Status.PASSED, Status.PASSED], [
        r.message for r in suite.results
    ]

"""The whole active suite against the reference endpoint, in-process (no root needed).

Every case passes or is a deviation listed with its RFC clause in ``expectations/reference.json``.
"""

from __future__ import annotations

from mptcpspec.conformance.conform import format_summary, load_expectations, run_suite
from mptcpspec.conformance.stacks.reference import ReferenceStack
from mptcpspec.conformance.suite.case import Status


def test_whole_suite_against_reference() -> None:
    suite = run_suite(ReferenceStack())
    failures = [f"{r.case.name}: {r.message}" for r in suite.results if r.status is Status.FAILED]
    assert not failures, "\n".join(failures) + "\n" + format_summary(suite)
    deviations = {r.case.name for r in suite.results if r.status is Status.DEVIATION}
    assert deviations <= set(load_expectations("reference"))

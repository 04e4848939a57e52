"""JUnit XML for ``mptcpspec validate --junit FILE``, so CI systems show validations as test results.

One testsuite per capture file; one testcase per (connection, rule with findings): a violation is a
failure, an undetermined finding a skipped test, notes pass with their text as output.  A connection
without findings is one passing testcase, an unusable file one testcase with an error.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence

from ..spec.rules import Finding, Verdict
from .report import format_frames
from .results import FileReport

__all__ = ["junit_document"]


def _testcase(suite: ET.Element, classname: str, name: str, findings: Sequence[Finding]) -> None:
    """One testcase for the findings of one rule on one connection: failure, skipped or passed."""
    case = ET.SubElement(suite, "testcase", classname=classname, name=name)
    details = "\n".join(
        f"frames {format_frames(f.frames, limit=20)} ({f.verdict.value}): {f.message}" for f in findings
    )
    violations = [f for f in findings if f.verdict is Verdict.VIOLATION]
    undetermined = [f for f in findings if f.verdict is Verdict.UNDETERMINED]
    if violations:
        first = violations[0]
        failure = ET.SubElement(case, "failure", type=first.rule.citation, message=first.message)
        failure.text = details
    elif undetermined:
        ET.SubElement(case, "skipped", message=f"undetermined: {undetermined[0].message}")
    if not violations:
        ET.SubElement(case, "system-out").text = details


def _suite(report: FileReport) -> ET.Element:
    suite = ET.Element("testsuite", name=report.path, time=f"{report.seconds:.3f}")
    if report.error is not None:
        case = ET.SubElement(suite, "testcase", classname=report.path, name="read capture")
        ET.SubElement(case, "error", message=report.error, type="unusable input")
    groups: dict[str, dict[str, list[Finding]]] = {c.id: {} for c in report.connections}
    for finding in report.findings:
        groups.setdefault(finding.connection or "capture", {}).setdefault(finding.rule.id, []).append(finding)
    checks = {c.id: c.checks for c in report.connections}
    for conn_id, by_rule in groups.items():
        classname = f"{report.path}.{conn_id}"
        for rule_id, findings in by_rule.items():
            _testcase(suite, classname, rule_id, findings)
        if not by_rule:
            case = ET.SubElement(suite, "testcase", classname=classname, name="no findings")
            ET.SubElement(
                case, "system-out"
            ).text = f"no findings; rule checks evaluated: {checks.get(conn_id, 0)}"
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attribute, str(sum(1 for case in cases if case.find(tag) is not None)))
    return suite


def junit_document(reports: Iterable[FileReport]) -> str:
    """JUnit XML: one testsuite per file; one testcase per (connection, rule with findings), violations
    as failures, undetermined as skipped; a connection without findings is one passing testcase and an
    unusable file one testcase with an error."""
    root = ET.Element("testsuites", name="mptcpspec validate")
    for report in reports:
        root.append(_suite(report))
    for attribute in ("tests", "failures", "errors", "skipped"):
        root.set(attribute, str(sum(int(s.get(attribute, "0")) for s in root)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

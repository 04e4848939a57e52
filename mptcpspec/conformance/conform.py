"""``mptcpspec conform``: run the active suite against a stack and report per case and per RFC section.

``make_stack("linux" | "reference" | "command:...")`` builds the stack ``--stack`` names;
``run_suite(stack, pattern=..., capture_dir=..., log=...)`` enters the stack, runs the sanity case
first (if it fails, every other case is skipped, as tlsfuzzer does), then each selected case on its own
block of ports.  A case passes when its body saw only allowed answers and the spec monitor found no
violation on a segment the stack sent.  A case the stack's expectations file lists
(``expectations/<stack>.json``: case name -> RFC clause and evidence) reports ``deviation (expected)``
instead of failing the run.  ``format_result`` is the progress line, ``format_summary`` the table by RFC
section, ``junit_xml`` the JUnit document.
"""

from __future__ import annotations

import fnmatch
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..capture.writer import write_pcap
from ..spec.rules import Finding
from .stacks.base import Stack
from .suite import SANITY, all_cases
from .suite.case import Case, CaseFailed, CaseUnsupported, Status
from .suite.judge import judge_conversation, stack_violations
from .suite.tester import PORTS_PER_CASE, Tester

__all__ = [
    "CaseResult",
    "Deviation",
    "SuiteResult",
    "format_result",
    "format_summary",
    "junit_xml",
    "load_expectations",
    "make_stack",
    "run_case",
    "run_suite",
    "select_cases",
]

_FIRST_PORT = 20000


@dataclass(frozen=True, slots=True)
class Deviation:
    """A known deviation of a stack: the case, the RFC clause it departs from, and the evidence."""

    case: str
    clause: str
    evidence: str


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The verdict on one case: status, a one-line message, evidence frames, the monitor's findings
    (all of them, the tester's deliberate breaches included), time taken and the capture written."""

    case: Case
    status: Status
    message: str
    frames: tuple[int, ...] = ()
    findings: tuple[Finding, ...] = ()
    seconds: float = 0.0
    capture: Path | None = None
    deviation: Deviation | None = None


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """All case results of one run against ``stack``."""

    stack: str
    results: tuple[CaseResult, ...]
    seconds: float

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def failed(self) -> bool:
        """Whether any case failed (expected deviations do not count)."""
        return self.count(Status.FAILED) > 0


def make_stack(spec: str) -> Stack:
    """The stack named by ``--stack``: ``linux``, ``reference`` or ``command:<command line>``
    (``ValueError`` for anything else)."""
    from .stacks.command import CommandStack
    from .stacks.kernel import KernelStack
    from .stacks.reference import ReferenceStack

    if spec == "linux":
        return KernelStack()
    if spec == "reference":
        return ReferenceStack()
    if spec.startswith("command:"):
        return CommandStack(spec.removeprefix("command:"))
    raise ValueError(f"unknown stack {spec!r}: use linux, reference or command:'<command line>'")


def load_expectations(stack_name: str) -> dict[str, Deviation]:
    """The known deviations of ``stack_name`` (``expectations/<name>.json``), by case name; none if
    the stack has no file."""
    resource = resources.files(__package__).joinpath("expectations", f"{stack_name}.json")
    if not resource.is_file():
        return {}
    entries = json.loads(resource.read_text())["deviations"]
    return {e["case"]: Deviation(e["case"], e["clause"], e["evidence"]) for e in entries}


def select_cases(pattern: str | None, cases: Sequence[Case] | None = None) -> list[Case]:
    """The cases whose name contains ``pattern`` (or matches it as a glob); all when ``None``."""
    pool = list(all_cases() if cases is None else cases)
    if pattern is None:
        return pool
    return [c for c in pool if pattern in c.name or fnmatch.fnmatchcase(c.name, pattern)]


def run_case(stack: Stack, case: Case, port: int, *, capture_dir: Path | None = None) -> CaseResult:
    """Run ``case`` on ports ``port`` to ``port + PORTS_PER_CASE - 1`` and judge it."""
    started = time.monotonic()
    tester = Tester(stack, case, port)
    frames: tuple[int, ...] = ()
    try:
        stack.configure(case.config)
        message, status = case.body(tester), Status.PASSED
    except CaseFailed as failure:
        message, status, frames = failure.message, Status.FAILED, failure.frames
    except CaseUnsupported as unsupported:
        message, status = str(unsupported), Status.UNSUPPORTED
    except Exception as error:  # the stack or its driver broke down: a failure with the error named
        message, status = f"error: {type(error).__name__}: {error}", Status.FAILED
    finally:
        tester.drain(0.05)
        tester.stop_app()
    findings = judge_conversation(case.name, tester.conversation, case.role)
    violations = stack_violations(findings, tester.conversation)
    if violations and status is Status.PASSED:
        first = violations[0]
        status, frames = Status.FAILED, first.frames
        message = f"monitor: {first.rule.id} ({first.rule.citation}): {first.message}"
    capture = None if capture_dir is None else _write_capture(capture_dir, case, tester)
    seconds = time.monotonic() - started
    return CaseResult(case, status, message, frames, tuple(findings), seconds, capture)


def _write_capture(directory: Path, case: Case, tester: Tester) -> Path | None:
    """The conversation as ``<directory>/<case>.pcap``; ``None`` if a segment cannot be a packet (the
    stack sent one with addresses of two families, say)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{case.name}.pcap"
    try:
        write_pcap(path, (e.segment for e in tester.conversation))
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return None
    return path


def _expected(result: CaseResult, deviations: dict[str, Deviation]) -> CaseResult:
    deviation = deviations.get(result.case.name)
    if deviation is None or result.status is not Status.FAILED:
        return result
    return CaseResult(result.case, Status.DEVIATION, result.message, result.frames, result.findings,
                      result.seconds, result.capture, deviation)  # fmt: skip


def run_suite(
    stack: Stack,
    *,
    pattern: str | None = None,
    capture_dir: Path | None = None,
    log: Callable[[str], None] | None = None,
    cases: Sequence[Case] | None = None,
    sanity: Case = SANITY,
) -> SuiteResult:
    """Run the ``sanity`` case, then the cases matching ``pattern`` (of ``cases``, default the whole
    suite), against ``stack``; ``log`` receives a progress line per case.  ``StackUnavailable`` when the
    stack cannot run here."""
    started = time.monotonic()
    deviations = load_expectations(stack.name)
    selected = [c for c in select_cases(pattern, cases) if c.name != sanity.name]
    results: list[CaseResult] = []
    with stack:
        for index, case in enumerate([sanity, *selected]):
            port = _FIRST_PORT + index * PORTS_PER_CASE
            if results and results[0].status is not Status.PASSED:
                result = CaseResult(case, Status.SKIPPED, "the sanity case failed")
            else:
                result = _expected(run_case(stack, case, port, capture_dir=capture_dir), deviations)
            results.append(result)
            if log is not None:
                log(format_result(result))
    return SuiteResult(stack.name, tuple(results), time.monotonic() - started)


def format_result(result: CaseResult) -> str:
    """The progress line of one case: status, name, section, time, message (and evidence frames)."""
    frames = f" [frames {','.join(map(str, result.frames[:8]))}]" if result.frames else ""
    line = (f"{result.status.value.upper():<21} {result.case.name:<40} §{result.case.section:<6} "
            f"{result.seconds:5.2f}s  {result.message}{frames}")  # fmt: skip
    if result.deviation is not None:
        line += f"\n{'':21} known deviation, {result.deviation.clause}: {result.deviation.evidence}"
    return line


def format_summary(suite: SuiteResult) -> str:
    """A table by RFC section: cases, passed, failed, deviations, unsupported, skipped; then totals."""
    order = (Status.PASSED, Status.FAILED, Status.DEVIATION, Status.UNSUPPORTED, Status.SKIPPED)
    header = f"{'RFC 8684':<10} {'cases':>5} " + " ".join(f"{s.name.lower():>11}" for s in order)
    sections = sorted({r.case.section for r in suite.results}, key=_section_key)
    rows = [header]
    for section in [*sections, None]:
        picked = [r for r in suite.results if section is None or r.case.section == section]
        label = "total" if section is None else f"§{section}"
        counts = " ".join(f"{sum(1 for r in picked if r.status is s):>11}" for s in order)
        rows.append(f"{label:<10} {len(picked):>5} {counts}")
    rows.append(f"stack {suite.stack}: {len(suite.results)} cases in {suite.seconds:.1f}s")
    return "\n".join(rows)


def _section_key(section: str) -> tuple[int, ...]:
    return tuple(int(part) for part in section.split(".") if part.isdigit())


def junit_xml(suite: SuiteResult) -> str:
    """JUnit XML: one testcase per case (class = RFC section); failed is a failure, unsupported and
    skipped are skipped, an expected deviation passes with its clause and evidence as output."""
    root = ET.Element("testsuite", name=f"mptcpspec conform {suite.stack}", time=f"{suite.seconds:.3f}")
    for result in suite.results:
        element = ET.SubElement(root, "testcase", classname=f"RFC8684.s{result.case.section}",
                                name=result.case.name, time=f"{result.seconds:.3f}")  # fmt: skip
        if result.status is Status.FAILED:
            ET.SubElement(element, "failure", type=result.case.citation, message=result.message)
        elif result.status in (Status.UNSUPPORTED, Status.SKIPPED):
            ET.SubElement(element, "skipped", message=f"{result.status.value}: {result.message}")
        text = (
            result.message
            if result.deviation is None
            else f"expected deviation ({result.deviation.clause}): {result.deviation.evidence}; "
            + result.message
        )
        ET.SubElement(element, "system-out").text = text
    root.set("tests", str(len(suite.results)))
    root.set("failures", str(suite.count(Status.FAILED)))
    root.set("skipped", str(suite.count(Status.UNSUPPORTED) + suite.count(Status.SKIPPED)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

"""Validation at archive scale: many inputs, several processes, or a Dask cluster.

``validate_many`` expands files and directories into capture paths in a stable order and validates
them serially, over ``jobs`` processes, or on a Dask distributed cluster; whichever way, it yields one
``FileReport`` per path in that same order, so the output does not depend on how the work was spread.
``run_validate`` is what ``mptcpspec validate`` does with the reports: print the text or JSON report,
write JUnit XML, annotated captures and HTML pages, and return the exit status.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from ..spec.errors import MptcpError
from ..spec.events import Observer
from .progress import Progress, track
from .replay import validate_file
from .report import Summary, annotate_capture, format_file_text, format_summary_text, reports_to_json
from .results import FileReport
from .selection import parse_rule_selection

__all__ = [
    "CAPTURE_SUFFIXES",
    "DASK_CONNECT_SECONDS",
    "DASK_HINT",
    "BatchError",
    "OutputOptions",
    "expand_inputs",
    "run_validate",
    "validate_many",
]

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")
DASK_HINT = "--dask needs the dask extra: pip install 'mptcpspec[dask]'"
DASK_CONNECT_SECONDS = 30


class BatchError(MptcpError):
    """The batch itself cannot run (bad ``jobs``, Dask missing or unreachable)."""


def expand_inputs(inputs: Sequence[str]) -> list[str]:
    """Capture paths for ``inputs``: files as given, directories searched recursively for names ending
    in one of ``CAPTURE_SUFFIXES`` (sorted), duplicates dropped, order of the arguments kept."""
    paths: dict[str, None] = {}
    for item in inputs:
        if os.path.isdir(item):
            found = (
                os.path.join(folder, name)
                for folder, _, names in os.walk(item)
                for name in names
                if name.lower().endswith(CAPTURE_SUFFIXES)
            )
            paths.update(dict.fromkeys(sorted(found)))
        else:
            paths[item] = None
    return list(paths)


def _validate_path(
    path: str, *, strict: bool, rules: str | None, series: bool, trace: Observer | None = None
) -> FileReport:
    """One file's report, in whatever process runs it; an unusable file is a report with ``error``."""
    if not os.path.isfile(path):
        return FileReport(path=path, packets=0, error="no such file")
    selected = parse_rule_selection(rules) if rules else None
    try:
        return validate_file(path, strict=strict, rules=selected, series=series, trace=trace)
    except Exception as exc:  # one broken file must not cost the rest of an archive its reports
        return FileReport(path=path, packets=0, error=f"internal error: {type(exc).__name__}: {exc}")


def _in_processes(task: Callable[[str], FileReport], paths: list[str], jobs: int) -> Iterator[FileReport]:
    from concurrent.futures import ProcessPoolExecutor  # here: multiprocessing is slow to import

    executor = ProcessPoolExecutor(max_workers=min(jobs, len(paths)))
    try:
        yield from executor.map(task, paths)
    finally:
        executor.shutdown(cancel_futures=True)


def _on_dask(task: Callable[[str], FileReport], paths: list[str], address: str) -> Iterator[FileReport]:
    try:
        distributed = importlib.import_module("distributed")
    except ImportError as exc:
        raise BatchError(DASK_HINT) from exc
    try:
        client = distributed.Client(address, timeout=DASK_CONNECT_SECONDS)
    except OSError as exc:
        raise BatchError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc

    def results() -> Iterator[FileReport]:
        with client:
            for future in client.map(task, paths, pure=False):
                yield future.result()

    return results()


def validate_many(
    inputs: Sequence[str],
    *,
    jobs: int = 1,
    dask: str | None = None,
    strict: bool = False,
    rules: str | None = None,
    series: bool = False,
    trace: Observer | None = None,
) -> Iterator[FileReport]:
    """Validate every capture of ``inputs`` (see ``expand_inputs``); yields reports in input order.

    ``jobs`` > 1 spreads the files over that many processes; ``dask`` is the address of a Dask
    scheduler (``tcp://host:8786``) to send them to.  ``rules`` is a ``--rules`` selection text (see
    ``selection``), ``strict``, ``series`` and ``trace`` are passed to ``replay.validate_file``; a trace
    observer runs in this process, so it cannot be combined with ``jobs`` > 1 or ``dask``.  Raises
    ``BatchError`` at once for an unusable setup, ``ValueError`` for a bad rule selection.
    """
    if jobs < 1:
        raise BatchError(f"jobs must be at least 1, got {jobs}")
    if trace is not None and (jobs > 1 or dask is not None):
        raise BatchError("--trace runs in this process: it cannot be combined with --jobs or --dask")
    if rules:
        parse_rule_selection(rules)
    paths = expand_inputs(inputs)
    task = functools.partial(_validate_path, strict=strict, rules=rules, series=series, trace=trace)
    if dask is not None:
        return _on_dask(task, paths, dask)
    if jobs > 1 and len(paths) > 1:
        return _in_processes(task, paths, jobs)
    return map(task, paths)


@dataclass(frozen=True, slots=True)
class OutputOptions:
    """What ``mptcpspec validate`` writes: ``format`` "text" or "json" on the output stream; JUnit XML
    to ``junit``; annotated pcapng to ``annotate`` (a file for one input; for several, a directory
    that gets a copy of each capture with findings);
    HTML pages into ``report_dir``; ``color`` for the text; ``timing`` adds seconds to the JSON."""

    format: str = "text"
    junit: str | None = None
    annotate: str | None = None
    report_dir: str | None = None
    color: bool = False
    timing: bool = False


class _UniqueNames:
    """Unique base names for the files written per capture (two captures may share a base name)."""

    def __init__(self) -> None:
        self._used: set[str] = {"index"}

    def take(self, path: str) -> str:
        from .report_html import report_file_name

        base = name = report_file_name(path).removesuffix(".html")
        count = 1
        while name in self._used:
            count += 1
            name = f"{base}-{count}"
        self._used.add(name)
        return name


def _without_series(report: FileReport) -> FileReport:
    """The report as kept for the documents written at the end (graph points are only for pages)."""
    return replace(report, connections=tuple(replace(c, series=()) for c in report.connections))


def _write_files(report: FileReport, base: str, outputs: OutputOptions, many: bool) -> None:
    """The per-capture files: the annotated capture (for several inputs only those with findings, into
    the ``annotate`` directory) and the HTML page."""
    if outputs.annotate and report.error is None and not many:
        annotate_capture(report, outputs.annotate)
    elif outputs.annotate and report.findings:
        folder = Path(outputs.annotate)
        folder.mkdir(parents=True, exist_ok=True)
        annotate_capture(report, folder / f"{base}.annotated.pcapng")
    if outputs.report_dir:
        from .report_html import write_html_report

        write_html_report(report, outputs.report_dir, f"{base}.html")


def run_validate(
    inputs: Sequence[str],
    out: TextIO,
    outputs: OutputOptions,
    *,
    jobs: int = 1,
    dask: str | None = None,
    strict: bool = False,
    rules: str | None = None,
    progress: bool | None = None,
    trace: Observer | None = None,
) -> int:
    """Validate ``inputs`` and write every output ``outputs`` asks for; returns the exit status of
    ``mptcpspec validate`` (0 clean, 1 a violation, 2 an unusable input).  The text report streams
    file by file; JSON, JUnit and the HTML index are written when all files are done.  ``progress``
    None draws a bar on stderr when it is a terminal and the output is not JSON; ``trace`` receives every
    monitor event (``--trace``)."""
    paths = expand_inputs(inputs)
    many = len(paths) > 1
    if progress is None:
        progress = outputs.format != "json" and sys.stderr.isatty()
    reports = validate_many(
        paths, jobs=jobs, dask=dask, strict=strict, rules=rules, series=bool(outputs.report_dir), trace=trace
    )
    names = _UniqueNames()
    kept: list[tuple[FileReport, str]] = []
    summary = Summary()
    for report in track(reports, Progress(len(paths), enabled=progress)):
        summary = summary.add(report)
        if report.error:
            print(f"mptcpspec: error: {report.path}: {report.error}", file=sys.stderr)
        if outputs.format == "text":
            out.write(format_file_text(report, color=outputs.color) + "\n")
            out.flush()
        base = names.take(report.path) if outputs.annotate or outputs.report_dir else ""
        _write_files(report, base, outputs, many)
        kept.append((_without_series(report), f"{base}.html"))
    if outputs.report_dir and many:
        from .report_html import index_html

        Path(outputs.report_dir, "index.html").write_text(index_html(kept), encoding="utf-8")
    files = [report for report, _ in kept]
    if outputs.format == "json":
        out.write(reports_to_json(files, timing=outputs.timing))
    else:
        out.write(format_summary_text(summary, color=outputs.color))
    if outputs.junit:
        from .report_junit import junit_document

        Path(outputs.junit).write_text(junit_document(files), encoding="utf-8")
    return summary.exit_status

"""Time ``mptcpspec validate`` against tshark's MPTCP analysis on one large capture (issue 4, item 7).

Makes (``make_bulk_capture.py``: Linux kernel, one two-subflow MPTCP v1 connection, headers only) or
reuses a capture, then runs each contender as a whole process several times, alternating (A B C A B C),
and prints wall time (median, min, max), packets per second, peak RSS and the ratios to tshark.  The
contenders: ``mptcpspec validate F`` and ``validate_file(F)`` alone ("replay": validate without the CLI's
report) once ``mptcpspec.conformance.replay`` exists, ``mptcpspec validate F`` without the reader's
native fast path ("pure": ``MPTCPSPEC_NO_SPEEDUPS=1``, as on an install without a C compiler), the
capture reader alone (``open_capture(F).segments(mptcp_only=True)``: the reader's share) and
``tshark -r F -o mptcp.analyze_mptcp:TRUE -o mptcp.analyze_mappings:TRUE
-o mptcp.intersubflows_retransmission:TRUE -q -z conv,tcp``.  ``--profile`` adds a cProfile of the
validate run in this process (the reader's when validate does not exist yet), top 25 by tottime.

Target: validate in at most half of tshark's time and a tenth of its peak memory.

Run as root:  ``.venv/bin/python bench/validate.py [--capture F] [--packets N] [--keep] [--profile]``
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from make_bulk_capture import count_flows, make_bulk_capture

from mptcpspec import cli
from mptcpspec.capture import open_capture
from mptcpspec.capture.decode import NO_SPEEDUPS, speedups_available

__all__ = [
    "Contender",
    "Timing",
    "contenders",
    "main",
    "measure",
    "profile",
    "ratios",
    "target_met",
    "time_process",
]

_PROJECT_ROOT = Path(__file__).resolve().parents[1]
_DEFAULT_CAPTURE = Path(tempfile.gettempdir()) / "mptcpspec-bench-bulk.pcap"
_TSHARK_OPTIONS = (
    "-o", "mptcp.analyze_mptcp:TRUE",
    "-o", "mptcp.analyze_mappings:TRUE",
    "-o", "mptcp.intersubflows_retransmission:TRUE",
    "-q", "-z", "conv,tcp",
)  # fmt: skip
_READER_ONLY = (
    "import sys\n"
    "from mptcpspec.capture import open_capture\n"
    "for _ in open_capture(sys.argv[1]).segments(mptcp_only=True):\n"
    "    pass\n"
)
_REPLAY_ONLY = (
    "import sys\n"
    "from mptcpspec.conformance.replay import validate_file\n"
    "sys.exit(2 if validate_file(sys.argv[1]).error else 0)\n"
)
_TRACEBACK = "Traceback (most recent call last)"
_TIME_TARGET = 0.5
_MEMORY_TARGET = 0.1


@dataclass(frozen=True, slots=True)
class Contender:
    """One program under test: a name, its command line, and the exit statuses that mean it worked."""

    name: str
    argv: tuple[str, ...]
    ok_status: frozenset[int] = frozenset({0})


@dataclass(frozen=True, slots=True)
class Timing:
    """One run of one contender: wall seconds, peak resident set in KiB, exit status, stderr's tail, and
    whether stderr shows a Python traceback (an uncaught exception also exits 1, like "violations found")."""

    seconds: float
    peak_rss_kib: int
    status: int
    stderr_tail: str
    crashed: bool

    def ok(self, contender: Contender) -> bool:
        return self.status in contender.ok_status and not self.crashed


def _validate_available() -> bool:
    return importlib.util.find_spec("mptcpspec.conformance.replay") is not None


def contenders(capture: Path) -> list[Contender]:
    """In this order: validate and replay (``validate_file`` without the CLI's report) when the replay
    module exists, validate without the native fast path when it is built, the reader alone, and tshark."""
    python = sys.executable
    found: list[Contender] = []
    if _validate_available():
        # exit status 1 means "violations found", still a complete run
        found.append(
            Contender(
                "validate", (python, "-m", "mptcpspec.cli", "validate", str(capture)), frozenset({0, 1})
            )
        )
        found.append(Contender("replay", (python, "-c", _REPLAY_ONLY, str(capture))))
        if speedups_available():  # the same command on an install without a C compiler
            pure = ("env", f"{NO_SPEEDUPS}=1", python, "-m", "mptcpspec.cli", "validate", str(capture))
            found.append(Contender("pure", pure, frozenset({0, 1})))
    found.append(Contender("reader", (python, "-c", _READER_ONLY, str(capture))))
    found.append(Contender("tshark", ("tshark", "-r", str(capture), *_TSHARK_OPTIONS)))
    return found


def time_process(argv: Sequence[str]) -> Timing:
    """Run ``argv`` with stdout discarded; wall time, and peak RSS from ``wait4`` for that child alone."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(_PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    )
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=_PROJECT_ROOT)
        _, wait_status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
        err.seek(0)
        text = err.read().decode(errors="replace").strip()
    return Timing(seconds, usage.ru_maxrss, proc.returncode, text[-300:], _TRACEBACK in text)


def measure(
    entrants: Sequence[Contender], runs: int, log: Callable[[str], None] = print
) -> dict[str, list[Timing]]:
    """Run every contender ``runs`` times, alternating; a failed run is reported and not counted."""
    timings: dict[str, list[Timing]] = {c.name: [] for c in entrants}
    for round_no in range(1, runs + 1):
        for entrant in entrants:
            timing = time_process(entrant.argv)
            verdict = "" if timing.ok(entrant) else f"  FAILED: {timing.stderr_tail}"
            mib = timing.peak_rss_kib / 1024
            log(
                f"  run {round_no} {entrant.name:<9} {timing.seconds:7.3f} s  {mib:7.1f} MiB  "
                f"exit {timing.status}{verdict}"
            )
            if not verdict:
                timings[entrant.name].append(timing)
    return timings


def _summary(name: str, runs: list[Timing], packets: int) -> str:
    if not runs:
        return f"{name:<9} no successful run"
    seconds = [t.seconds for t in runs]
    median = statistics.median(seconds)
    peak = max(t.peak_rss_kib for t in runs) / 1024
    return (
        f"{name:<9} wall median {median:7.3f} s (min {min(seconds):.3f}, max {max(seconds):.3f}, "
        f"{len(runs)} runs)  {packets / median:>11,.0f} packets/s  peak RSS {peak:7.1f} MiB"
    )


def ratios(timings: dict[str, list[Timing]]) -> dict[str, tuple[float, float]]:
    """Each contender's (median time, peak memory) over tshark's; empty without tshark figures."""
    base = timings.get("tshark")
    if not base:
        return {}
    base_time = statistics.median(t.seconds for t in base)
    base_mem = max(t.peak_rss_kib for t in base)
    return {
        name: (
            statistics.median(t.seconds for t in runs) / base_time,
            max(t.peak_rss_kib for t in runs) / base_mem,
        )
        for name, runs in timings.items()
        if name != "tshark" and runs
    }


def target_met(ratio: dict[str, tuple[float, float]]) -> bool:
    """Whether validate took at most half of tshark's time and a tenth of its memory."""
    if "validate" not in ratio:
        return False
    time_ratio, mem_ratio = ratio["validate"]
    return time_ratio <= _TIME_TARGET and mem_ratio <= _MEMORY_TARGET


def profile(capture: Path, top: int = 25) -> str:
    """cProfile of ``mptcpspec validate`` in this process (of the reader when validate does not exist)."""
    profiler = cProfile.Profile()
    if _validate_available():
        what = "mptcpspec validate"
        try:
            profiler.runcall(cli.main, ["validate", str(capture)], io.StringIO())
        except Exception as exc:  # the profile up to the failure still shows where the time went
            what += f" (ended by {type(exc).__name__}: {exc})"
    else:
        what = "capture reader (validate not available yet)"
        profiler.runcall(lambda: sum(1 for _ in open_capture(capture).segments(mptcp_only=True)))
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return f"profile of {what}, top {top} by tottime:\n{text.getvalue()}"


def _obtain_capture(args: argparse.Namespace) -> bool:
    """Make the capture unless it exists; True when this run made it."""
    if args.capture.exists():
        print(f"reusing {args.capture}")
        return False
    made = make_bulk_capture(args.capture, args.packets, rate=args.rate)
    print(f"tcpdump: {made.tcpdump_stats}")
    print(
        f"tcpdump dropped {made.dropped} packets"
        + ("" if made.dropped == 0 else ": use --rate to shape the paths")
    )
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--capture", type=Path, default=_DEFAULT_CAPTURE, help="reused when it exists")
    parser.add_argument("--packets", type=int, default=300_000, help="packets in a capture made here")
    parser.add_argument("--keep", action="store_true", help="keep a capture made by this run for reuse")
    parser.add_argument("--runs", type=int, default=3, help="runs per contender")
    parser.add_argument("--rate", help="token-bucket rate per path while capturing, e.g. 800mbit")
    parser.add_argument("--profile", action="store_true", help="also profile validate in-process")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Obtain the capture, race the contenders, print the figures; exit 1 when validate misses the target."""
    args = _parser().parse_args(argv)
    if shutil.which("tshark") is None:
        print("tshark is not installed")
        return 2
    made = _obtain_capture(args)
    try:
        packets, flows = count_flows(args.capture)
        print(
            f"{args.capture}: {packets:,} packets, {flows} TCP flows, {args.capture.stat().st_size:,} bytes"
        )
        timings = measure(contenders(args.capture), args.runs)
        print()
        for name, runs in timings.items():
            print(_summary(name, runs, packets))
        ratio = ratios(timings)
        for name, (time_ratio, mem_ratio) in ratio.items():
            print(f"{name}/tshark: time {time_ratio:.2f}, memory {mem_ratio:.3f}")
        met = target_met(ratio)
        verdict = "met" if met else "NOT met" if "validate" in ratio else "not measured (no validate yet)"
        print(f"target (validate/tshark time <= {_TIME_TARGET}, memory <= {_MEMORY_TARGET}): {verdict}")
        if args.profile:
            print()
            print(profile(args.capture))
    finally:
        if made and not args.keep:
            args.capture.unlink()
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())

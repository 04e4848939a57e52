"""Benchmark the capture reader: packets, seconds, packets/s and peak RSS for three ways of reading.

(a) raw record iteration (``reader.records()``), (b) ``reader.segments()``, (c)
``reader.segments(mptcp_only=True)``.  Make a large headers-only MPTCP capture with
``bench/make_bulk_capture.py /tmp/bulk.pcap --packets 300000`` (root), then run
``.venv/bin/python bench/read_capture.py /tmp/bulk.pcap``.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mptcpspec.capture import open_capture


def _measure(name: str, run: Callable[[], Iterable[object]], packets: Callable[[], int]) -> None:
    """Time one full pass; wall-clock and CPU seconds (CPU time is steadier on a shared machine)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    items = sum(1 for _ in run())
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    count = packets()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{name:<26} packets={count:>8,} items={items:>8,} seconds={seconds:6.3f} cpu={cpu:6.3f} "
        f"packets/s={count / seconds:>10,.0f} us/packet={seconds / count * 1e6:5.2f} "
        f"cpu_us/packet={cpu / count * 1e6:5.2f} peak_rss={peak_mib:5.1f} MiB"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time the mptcpspec capture reader on one file.")
    parser.add_argument("file", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="run each measurement this many times")
    args = parser.parse_args(argv)
    reader = open_capture(args.file)
    print(f"{args.file}: {reader.format}, link type {reader.linktype}")
    for _ in range(args.repeat):
        _measure("(a) records()", reader.records, lambda: reader.packets)
        _measure("(b) segments()", reader.segments, lambda: reader.packets)
        _measure("(c) segments(mptcp_only)", lambda: reader.segments(mptcp_only=True), lambda: reader.packets)
    if reader.notes:
        print(f"{len(reader.notes)} notes, first: {reader.notes[0]}")


if __name__ == "__main__":
    main()

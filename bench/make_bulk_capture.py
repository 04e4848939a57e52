"""Make a large headers-only capture of one long two-subflow MPTCP v1 connection of the Linux kernel.

The project's testbed (``mptcpspec.conformance.stacks.linux.Testbed``) gives two namespaces joined by
two veth paths; the client has a ``subflow`` endpoint on path 2 (RFC 8684 §3.2 joins), GSO/TSO/GRO are
off on every veth so each segment is MSS-sized, and ``tcpdump -i any -s 128`` in the client namespace
records both paths.  The scenario apps (``stacks/apps.py``) upload one stream and download another of
the same size over that one connection, so the capture holds data and ACKs both ways on both subflows.
Optionally each path is rate-limited with a token bucket when tcpdump drops packets.

Run as root:  ``.venv/bin/python bench/make_bulk_capture.py /tmp/bulk.pcap --packets 300000``
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mptcpspec.capture import open_capture
from mptcpspec.conformance.stacks.linux import Tcpdump, Testbed, TestbedError, capturing, cleanup_stale
from mptcpspec.conformance.stacks.recipes import PORT, await_subflows, joins, offloads, shape

__all__ = ["BulkCapture", "count_flows", "make_bulk_capture"]

_BYTES_PER_PACKET = 560
"""Stream bytes per direction per captured packet wanted: each direction sends about one data segment
(~1,420 bytes of payload) and half an ACK per 950 bytes, so two streams of ``560 * N`` bytes give ~1.2 N
packets."""

_MAX_STREAM = (1 << 28) - 1
"""The apps draw each stream with ``random.randbytes``, which cannot make more bytes than this."""

_PAUSE_AT = 100_000
"""The client pauses here until the second subflow is up, so the bulk runs over both paths."""


@dataclass(frozen=True, slots=True)
class BulkCapture:
    """A capture made by ``make_bulk_capture``: tcpdump's own counts and the bytes sent each way."""

    path: Path
    captured: int
    dropped: int
    stream_bytes: int
    tcpdump_stats: str


def _tcpdump_count(stats: str, what: str) -> int:
    """A count from tcpdump's closing lines (``N packets captured``, ``N packets dropped by kernel``)."""
    found = re.search(rf"(\d+) packets? {what}", stats)
    return int(found.group(1)) if found else -1


def _transfer(bed: Testbed, stream_bytes: int) -> None:
    """One MPTCP connection: the client uploads ``stream_bytes``, the server answers as many."""
    common = ["--port", str(PORT), "--up", str(stream_bytes), "--down", str(stream_bytes), "--timeout", "60"]
    with bed.app("server", ["--bind", "0.0.0.0", *common]) as server:
        server.wait_event("listening")
        target = bed.paths[0].server_addr()
        with bed.app("client", ["--connect", target, "--pause-at", str(_PAUSE_AT), *common]) as client:
            client.wait_event("paused", timeout=30)
            await_subflows(2)(bed)
            client.send_line()
            client.finish(timeout=600)
        server.finish(timeout=60)


def make_bulk_capture(
    out: Path,
    packets: int,
    *,
    rate: str | None = None,
    snaplen: int = 128,
    log: Callable[[str], None] = print,
) -> BulkCapture:
    """Capture one two-subflow connection big enough for at least ``packets`` packets into ``out``.

    ``rate`` (a tc rate such as ``800mbit``) limits each path in both directions.  Raises
    ``TestbedError`` when the namespaces, tcpdump or the apps fail, and ``ValueError`` when ``packets``
    needs more than the apps can send.
    """
    stream_bytes = packets * _BYTES_PER_PACKET
    if stream_bytes > _MAX_STREAM:
        raise ValueError(
            f"{packets} packets need {stream_bytes} bytes each way; the apps send at most {_MAX_STREAM}"
        )
    for name in cleanup_stale():
        log(f"removed stale namespace {name}")
    log(f"capturing {stream_bytes:,} bytes each way over two subflows into {out} (snaplen {snaplen})")
    with Testbed(paths=2) as bed:
        joins(2)(bed)
        for path in (1, 2):
            offloads(path, on=False)(bed)
            if rate:
                shape(path, rate)(bed)
        dump = Tcpdump(bed.client, "any", out, snaplen=snaplen)
        with capturing([dump]):
            _transfer(bed, stream_bytes)
    stats = dump.stats
    return BulkCapture(
        out,
        _tcpdump_count(stats, "captured"),
        _tcpdump_count(stats, "dropped by kernel"),
        stream_bytes,
        stats,
    )


def count_flows(path: Path) -> tuple[int, int]:
    """Records in the capture and distinct TCP 4-tuples (either direction) among its segments."""
    reader = open_capture(path)
    flows = {frozenset(((s.src, s.sport), (s.dst, s.dport))) for s in reader.segments(mptcp_only=True)}
    return reader.packets, len(flows)


def main(argv: Sequence[str] | None = None) -> int:
    """Make the capture; exit status 1 when tcpdump dropped packets or the count falls short."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--packets", type=int, default=300_000, help="at least this many packets")
    parser.add_argument("--rate", help="token-bucket rate per path, e.g. 800mbit (when tcpdump drops)")
    parser.add_argument("--snaplen", type=int, default=128)
    args = parser.parse_args(argv)
    try:
        made = make_bulk_capture(args.out, args.packets, rate=args.rate, snaplen=args.snaplen)
    except (TestbedError, ValueError) as exc:
        print(f"make_bulk_capture: {exc}")
        return 2
    records, flows = count_flows(made.path)
    print(f"{made.path}: {records:,} packets, {flows} TCP flows; tcpdump: {made.tcpdump_stats}")
    return 0 if made.dropped == 0 and records >= args.packets else 1


if __name__ == "__main__":
    raise SystemExit(main())

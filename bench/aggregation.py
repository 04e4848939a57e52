"""The seed result of MPTCP, measured: one connection over two equal rate-limited paths, against one path.

For the reference endpoint (through its TUN device, uploading to the kernel) and for the Linux kernel
itself (kernel client to kernel server, same namespaces, same shaping, same run), prints the goodput
over one path, over two paths, and their ratio.  Paths are shaped with tc tbf on both ends (netem is not
available here).  Needs root.  Run from the repository root:

    .venv/bin/python bench/aggregation.py [--rate 20mbit] [--bytes 8000000] [--runs 3]

The namespace lab is the reference interop tests' (``tests/reference/kernel_lab.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reference"))

from kernel_lab import KernelLab, kernel_addr, lab_unavailable_reason, ref_addr

from mptcpspec.conformance.stacks.apps import stream
from mptcpspec.conformance.stacks.linux import Program
from mptcpspec.reference.tun import peer_connect

PORT = 8080
SEED = 8684


def _shape(lab: KernelLab, rate: str) -> None:
    for path in lab.paths:
        lab.router.shape(f"r{path}", rate, latency="20ms")
        lab.kernel.shape(f"k{path}", rate, latency="20ms")


def reference_goodput(lab: KernelLab, size: int, two_paths: bool) -> float:
    """Mbit/s of one reference connection uploading ``size`` bytes to the kernel (until its DATA_FIN)."""
    joins = ((ref_addr(2), kernel_addr(2)),) if two_paths else ()
    args = ["--bind", "0.0.0.0", "--port", str(PORT), "--up", str(size), "--down", "1", "--seed", str(SEED)]
    with lab.app("server", args) as server:
        server.wait_event("listening")
        result = peer_connect(
            lab.device, ref_addr(1), (kernel_addr(1), PORT), stream(SEED, size), joins=joins, timeout=120
        )
        server.finish(timeout=30)
    if result.stream_end is None or not server.events[-1].get("ok"):
        raise SystemExit(f"reference transfer failed: {server.events} {result.events[-3:]}")
    return size * 8 / result.stream_end / 1e6


def _kernel_seconds(lab: KernelLab, size: int) -> float:
    """Wall time of one kernel transfer of ``size`` bytes, client process start to exit."""
    common = [
        "--port",
        str(PORT + 1),
        "--up",
        str(size),
        "--down",
        "1",
        "--seed",
        str(SEED),
        "--timeout",
        "60",
    ]
    server_args = [sys.executable, "-m", "mptcpspec.conformance.stacks.apps", "server", "--bind", "0.0.0.0"]
    with Program(lab.router.exec_args(*server_args, *common)) as server:
        server.wait_event("listening")
        started = time.monotonic()
        with lab.app("client", ["--connect", "10.234.1.1", *common]) as client:
            client.finish(timeout=120)
        elapsed = time.monotonic() - started
        server.finish(timeout=30)
    return elapsed


def kernel_goodput(lab: KernelLab, size: int, two_paths: bool) -> float:
    """Mbit/s of one kernel connection, client in the kernel namespace, server in the router's; the
    client program's start-up and teardown (timed with a one-byte transfer) are taken off."""
    lab.kernel.run("ip", "mptcp", "endpoint", "flush")
    if two_paths:
        lab.kernel.mptcp_endpoint(kernel_addr(2), "k2", 2, "subflow")
    overhead = min(_kernel_seconds(lab, 1) for _ in range(2))
    return size * 8 / (_kernel_seconds(lab, size) - overhead) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", default="20mbit", help="tbf rate of each path, each direction")
    parser.add_argument("--bytes", type=int, default=8_000_000, help="bytes per transfer")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration (median reported)")
    args = parser.parse_args()
    reason = lab_unavailable_reason()
    if reason is not None:
        print(f"skipped: {reason}")
        return 0
    with KernelLab(paths=2) as lab:
        _shape(lab, args.rate)
        lab.router.mptcp_limits(subflows=4, add_addr_accepted=0)
        figures: dict[tuple[str, bool], float] = {}
        for name, measure in (("reference", reference_goodput), ("kernel", kernel_goodput)):
            for two in (False, True):
                runs = [measure(lab, args.bytes, two) for _ in range(args.runs)]
                figures[(name, two)] = statistics.median(runs)
                print(
                    f"{name:9} {'2 paths' if two else '1 path ':7}: "
                    f"{figures[(name, two)]:6.1f} Mbit/s  (runs: {', '.join(f'{r:.1f}' for r in runs)})"
                )
    print(f"paths: 2 x {args.rate} (tbf, both directions), {args.bytes} bytes per transfer")
    for name in ("reference", "kernel"):
        ratio = figures[(name, True)] / figures[(name, False)]
        print(
            f"{name:9} aggregation: {figures[(name, True)]:.1f} / {figures[(name, False)]:.1f} = {ratio:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

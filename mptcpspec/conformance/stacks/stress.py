"""Stress captures: real kernel MPTCP under load and impairment, recorded from several vantage points.

A ``StressCase`` is a capture ``Scenario`` (setup, transfer, ``during`` steps, what it must show) run
``connections`` times in a row (``parallel`` at once, each on its own server port) in one testbed,
while several tcpdumps (``Vantage``) record it at once:
on the client or the server, on ``any`` (Linux cooked capture v2, where GSO/GRO super-segments show)
or on one path's interface, with a small or a full snaplen, started late (the capture begins
mid-connection) or stopped early.  Every capture of a conformant stack must validate without a
violation (DESIGN.md, Soundness); the trace checker's red-team tests run the ``STRESS`` table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from .expectations import MustShow
from .linux import Tcpdump, Testbed, capturing
from .recipes import (
    PORT,
    Step,
    await_subflows,
    change_endpoint,
    checksums,
    drop_randomly,
    joins,
    link_down,
    offloads,
    remove_endpoint,
    shape,
    wait,
)
from .scenarios import Scenario, _transfer

__all__ = [
    "STRESS",
    "StressCase",
    "Vantage",
    "capture_stress",
    "endpoint",
    "limits",
    "link_up",
    "reuse_client_port",
]


@dataclass(frozen=True, slots=True)
class Vantage:
    """One tcpdump: ``side`` is ``client`` or ``server``; ``path`` 0 means ``-i any``, else that path's
    interface; ``start_after``/``stop_after`` (seconds from the first transfer) cut the capture short."""

    name: str
    side: str = "client"
    path: int = 0
    snaplen: int = 200
    start_after: float = 0.0
    stop_after: float | None = None

    def tcpdump(self, bed: Testbed, out: Path) -> Tcpdump:
        ns = bed.client if self.side == "client" else bed.server
        if self.path == 0:
            return Tcpdump(ns, "any", out, snaplen=self.snaplen, linktype="LINUX_SLL2")
        link = bed.paths[self.path - 1]
        return Tcpdump(
            ns, link.client_if if self.side == "client" else link.server_if, out, snaplen=self.snaplen
        )


CLIENT_ANY = Vantage("client-any")
SERVER_ANY = Vantage("server-any", side="server")


@dataclass(frozen=True, slots=True)
class StressCase:
    """A scenario repeated ``connections`` times, ``parallel`` at once, recorded from each of ``vantages``.

    ``scenario.must_show`` applies to the first vantage, which must see every path.  Of parallel
    transfers the first uses the scenario's port and runs its ``during`` steps; the others use the
    ports after it and no steps."""

    scenario: Scenario
    vantages: tuple[Vantage, ...] = (CLIENT_ANY, SERVER_ANY)
    connections: int = 1
    parallel: int = 1

    @property
    def name(self) -> str:
        return self.scenario.name


@contextmanager
def _timed(captures: Sequence[tuple[Vantage, Tcpdump]]) -> Iterator[None]:
    """Start the captures that begin with the transfer now and the late ones on a timer; the early
    stops on a timer too.  On leaving, everything still running is stopped."""
    now = [t for v, t in captures if v.start_after == 0]
    timers = [threading.Timer(v.start_after, t.start) for v, t in captures if v.start_after > 0]
    timers += [threading.Timer(v.stop_after, t.stop) for v, t in captures if v.stop_after is not None]
    with capturing(now):
        for timer in timers:
            timer.start()
        try:
            yield
        finally:
            for timer in timers:
                timer.cancel()
                if timer.is_alive():
                    timer.join()
            for _, tcpdump in captures:
                tcpdump.stop()


def capture_stress(case: StressCase, out_dir: Path) -> dict[str, Path]:
    """Run ``case`` in fresh namespaces; return each vantage's capture file by vantage name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scenario = case.scenario
    files = {v.name: out_dir / f"{case.name}-{v.name}.pcap" for v in case.vantages}
    with Testbed(scenario.paths) as bed:
        for step in scenario.setup:
            step(bed)
        captures = [(v, v.tcpdump(bed, files[v.name])) for v in case.vantages]
        with _timed(captures):
            for number in range(case.connections):
                # later connections run without the pause steps: the path manager acted already
                _concurrently(bed, scenario if number == 0 else replace(scenario, during=()), case.parallel)
    return files


def _concurrently(bed: Testbed, scenario: Scenario, count: int) -> None:
    """``count`` transfers of ``scenario`` at once; the extra ones on ports ``PORT + 1`` and on."""
    port = ("--port",)
    extra = [
        replace(
            scenario,
            during=(),
            server_options=(*scenario.server_options, *port, str(PORT + k)),
            client_options=(*scenario.client_options, *port, str(PORT + k)),
        )
        for k in range(1, count)
    ]
    with ThreadPoolExecutor(max_workers=count) as pool:
        for done in [pool.submit(_transfer, bed, s) for s in (scenario, *extra)]:
            done.result()


# --- steps beyond recipes.py ---------------------------------------------------------------------


def link_up(path_index: int) -> Step:
    """Bring a path's server end up again after ``link_down``."""
    return lambda bed: bed.server.ip("link", "set", bed.paths[path_index - 1].server_if, "up")


def limits(subflows: int, add_addr_accepted: int) -> Step:
    """The same path-manager limits on both hosts."""

    def step(bed: Testbed) -> None:
        for ns in (bed.client, bed.server):
            ns.mptcp_limits(subflows=subflows, add_addr_accepted=add_addr_accepted)

    return step


def endpoint(side: str, path_index: int, *flags: str, ip_version: int = 4) -> Step:
    """A path-manager endpoint on ``side``'s address of a path (id = path number, +10 for IPv6);
    ``flags`` as ``ip mptcp endpoint add`` takes them (``signal``, ``subflow``, ``fullmesh``,
    ``port N``).  Without ``limits`` first the default limits apply."""

    def step(bed: Testbed) -> None:
        path = bed.paths[path_index - 1]
        client = side == "client"
        ns = bed.client if client else bed.server
        address = path.client_addr(ip_version) if client else path.server_addr(ip_version)
        dev = path.client_if if client else path.server_if
        ident = str(path_index + (10 if ip_version == 6 else 0))
        ns.ip("mptcp", "endpoint", "add", address, "dev", dev, "id", ident, *flags)

    return step


def reuse_client_port() -> Step:
    """Every client connection from one source port: a one-port ephemeral range, and no TIME_WAIT
    sockets on either host (``tcp_max_tw_buckets`` 0), so the same 4-tuple carries each connection."""

    def step(bed: Testbed) -> None:
        bed.client.sysctl("net.ipv4.ip_local_port_range", "40000 40000")
        for ns in (bed.client, bed.server):
            ns.sysctl("net.ipv4.tcp_max_tw_buckets", 0)

    return step


# --- the table -----------------------------------------------------------------------------------

_SUBFLOWS = ("MP_CAPABLE", "MP_JOIN", "DSS")

_TABLE = (
    StressCase(
        Scenario(
            "three-paths-lossy",
            "3 paths: 15% loss on path 2, path 3 shaped to 10 Mbit/s (reordering across subflows)",
            MustShow(_SUBFLOWS, 3, features=("retransmissions",)),
            paths=3,
            up=1_500_000,
            down=500_000,
            pause_at=200_000,
            setup=(joins(2, 3), offloads(2, on=False), drop_randomly(2, 0.15), shape(3, "10mbit")),
            during=(await_subflows(3),),
        ),
        vantages=(
            CLIENT_ANY,
            SERVER_ANY,
            Vantage("client-path1-s60", path=1, snaplen=60),
            Vantage("client-any-s96", snaplen=96),
            Vantage("server-path2-s96", side="server", path=2, snaplen=96),
            Vantage("client-path3-full", path=3, snaplen=65535),
            Vantage("client-any-late", start_after=0.4),
            Vantage("server-any-early-stop", side="server", stop_after=0.3),
        ),
    ),
    StressCase(
        Scenario(
            "checksum-loss",
            "DSS checksums on, 20% loss on the joined path (offloads off), payload kept whole",
            MustShow(_SUBFLOWS, 2, features=("dss-checksum",)),
            paths=2,
            up=600_000,
            down=300_000,
            setup=(checksums(), joins(2), offloads(2, on=False), drop_randomly(2, 0.2)),
            during=(await_subflows(2),),
        ),
        vantages=(
            Vantage("client-any-full", snaplen=65535),
            Vantage("server-path1-full", "server", 1, 65535),
        ),
    ),
    StressCase(
        Scenario(
            "ipv6-lossy",
            "IPv6, 3 paths: 10% loss on path 3, path 2 shaped to 5 Mbit/s",
            MustShow(_SUBFLOWS, 3),
            paths=3,
            ip_version=6,
            up=800_000,
            down=200_000,
            setup=(joins(2, 3, ip_version=6), drop_randomly(3, 0.1, ip_version=6), shape(2, "5mbit")),
            during=(await_subflows(3),),
        )
    ),
    StressCase(
        Scenario(
            "link-flap",
            "path 2 goes down mid-transfer and comes back",
            MustShow(_SUBFLOWS, 2),
            paths=2,
            up=1_000_000,
            down=200_000,
            setup=(joins(2), shape(1, "20mbit"), shape(2, "20mbit")),
            during=(await_subflows(2), link_down(2), wait(0.4), link_up(2)),
        )
    ),
    StressCase(
        Scenario(
            "endpoint-readd",
            "the client removes its second endpoint mid-transfer and adds it back (REMOVE_ADDR, new join)",
            MustShow((*_SUBFLOWS, "REMOVE_ADDR"), 2),
            paths=2,
            up=1_000_000,
            down=500_000,
            setup=(joins(2),),
            during=(
                await_subflows(2),
                remove_endpoint(2),
                wait(0.2),
                endpoint("client", 2, "subflow"),
                wait(0.2),
            ),
        )
    ),
    StressCase(
        Scenario(
            "prio-flips-load",
            "MP_PRIO backup/nobackup flips back and forth under load on shaped paths",
            MustShow((*_SUBFLOWS, "MP_PRIO"), 2),
            paths=2,
            up=1_500_000,
            down=300_000,
            setup=(joins(2), shape(1, "20mbit"), shape(2, "20mbit")),
            during=(
                await_subflows(2),
                change_endpoint(2, "backup"),
                wait(0.1),
                change_endpoint(2, "nobackup"),
                change_endpoint(2, "backup"),
                change_endpoint(2, "nobackup"),
            ),
        )
    ),
    StressCase(
        Scenario(
            "fastclose-load",
            "the server aborts (SO_LINGER 0) with three subflows busy: MP_FASTCLOSE under load",
            MustShow((*_SUBFLOWS, "MP_FASTCLOSE"), 3),
            paths=3,
            up=3_000_000,
            down=0,
            setup=(joins(2, 3),),
            during=(await_subflows(3),),
            server_options=("--abort-after", "1500000"),
            client_options=("--expect-reset",),
        )
    ),
    StressCase(
        Scenario(
            "signal-port",
            "the server announces an address with its own port (ADD_ADDR with port), the client joins it",
            MustShow((*_SUBFLOWS, "ADD_ADDR"), 2),
            paths=2,
            up=600_000,
            down=300_000,
            setup=(limits(4, 4), endpoint("server", 2, "signal", "port", str(PORT + 10))),
            during=(wait(0.4),),
        )
    ),
    StressCase(
        Scenario(
            "client-signals",
            "the client announces two addresses and the server opens the joins (listener-side joins)",
            MustShow((*_SUBFLOWS, "ADD_ADDR"), 3),
            paths=3,
            up=600_000,
            down=300_000,
            setup=(limits(4, 4), endpoint("client", 2, "signal"), endpoint("client", 3, "signal")),
            during=(wait(0.4),),
        )
    ),
    StressCase(
        Scenario(
            "parallel-lossy",
            "ten connections at once over three paths, 5% loss on path 3 (demultiplexing, token lookup)",
            MustShow(_SUBFLOWS, 30),
            paths=3,
            up=200_000,
            down=50_000,
            setup=(joins(2, 3), limits(2, 0), drop_randomly(3, 0.05)),
            during=(await_subflows(3),),
        ),
        vantages=(CLIENT_ANY, Vantage("server-path2", side="server", path=2)),
        parallel=10,
    ),
    StressCase(
        Scenario(
            "download-only",
            "the client sends no data (its DATA_FIN is its first DSS mapping), the server 300 kB",
            MustShow(("MP_CAPABLE", "DSS"), features=("data-fin-both-ways",)),
            up=0,
            down=300_000,
            pause_at=0,
        )
    ),
    StressCase(
        Scenario(
            "port-reuse",
            "six short connections in a row from the same client port (same 4-tuple), each with a join",
            MustShow(_SUBFLOWS, 2),
            paths=2,
            up=20_000,
            down=5_000,
            pause_at=10_000,
            setup=(joins(2), reuse_client_port()),
            during=(await_subflows(2),),
        ),
        vantages=(CLIENT_ANY, Vantage("server-path1", side="server", path=1)),
        connections=6,
    ),
)

STRESS: Mapping[str, StressCase] = {case.name: case for case in _TABLE}
"""Every stress case by name, in the order of the table."""

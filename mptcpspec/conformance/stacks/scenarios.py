"""The capture scenarios: real Linux-kernel MPTCP conversations, one capture each, with what it must show.

Each ``Scenario`` is a recipe on a ``Testbed``: steps that configure the namespaces (path manager,
shaping, middleboxes), a transfer (the client uploads ``up`` bytes, pausing at ``pause_at`` while the
``during`` steps run, and the server answers with ``down`` bytes), and a ``MustShow``.
``capture_scenarios`` runs them (optionally several at once), writes ``<name>.pcap`` (or ``.pcapng``)
and ``<name>.expect.json``, and judges each capture against its ``MustShow``.
"""

from __future__ import annotations

import datetime
import enum
import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .expectations import MustShow, Observation, check, observe
from .linux import (
    Tcpdump,
    TerminationSignals,
    Testbed,
    TestbedError,
    capturing,
    cleanup_stale,
    root_unavailable_reason,
    run,
)
from .recipes import (
    PORT,
    Step,
    await_subflows,
    change_endpoint,
    checksums,
    corrupt_one_segment,
    drop_randomly,
    joins,
    link_down,
    offloads,
    remove_endpoint,
    shape,
    signal,
    strip_mptcp_option,
    wait,
)

__all__ = [
    "SCENARIOS",
    "CaptureMode",
    "Scenario",
    "ScenarioResult",
    "capture_scenarios",
    "root_unavailable_reason",
    "run_scenario",
]

_PAUSE = 0.3  # seconds the client stays paused after the ``during`` steps, for the kernel to act


class CaptureMode(enum.Enum):
    """Where tcpdump listens, in the client namespace."""

    ANY = "any"  # ``-i any``: every path in one pcap, Linux cooked capture v2 (LINKTYPE_LINUX_SLL2)
    FIRST = "first"  # ``-i c1``: path 1 only, Ethernet
    EACH = "each"  # one Ethernet capture per path, merged into one pcapng by ``mergecap``


@dataclass(frozen=True, slots=True)
class Scenario:
    """One capture recipe; ``intact`` is False where the scenario itself corrupts the data."""

    name: str
    description: str
    must_show: MustShow
    paths: int = 1
    ip_version: int = 4
    capture: CaptureMode = CaptureMode.FIRST
    snaplen: int = 200
    up: int = 100_000
    down: int = 20_000
    pause_at: int = 50_000
    setup: tuple[Step, ...] = ()
    during: tuple[Step, ...] = ()
    server_options: tuple[str, ...] = ()
    client_options: tuple[str, ...] = ()
    intact: bool = True

    @property
    def filename(self) -> str:
        return f"{self.name}.pcapng" if self.capture is CaptureMode.EACH else f"{self.name}.pcap"


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """The outcome of one scenario: the files written, notes (program events, tcpdump counts), what the
    capture shows, and how it falls short of the scenario's ``MustShow`` (``problems``) or why it could
    not be made at all (``error``)."""

    name: str
    pcap: Path
    expect: Path
    notes: tuple[str, ...]
    observation: Observation | None = None
    problems: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.problems


def _captures(bed: Testbed, scenario: Scenario, work: Path) -> list[Tcpdump]:
    if scenario.capture is CaptureMode.ANY:  # older libpcaps default to LINUX_SLL (v1) on "any"
        return [
            Tcpdump(bed.client, "any", work / "any.pcap", snaplen=scenario.snaplen, linktype="LINUX_SLL2")
        ]
    paths = bed.paths[:1] if scenario.capture is CaptureMode.FIRST else bed.paths
    return [
        Tcpdump(bed.client, p.client_if, work / f"{p.client_if}.pcap", snaplen=scenario.snaplen)
        for p in paths
    ]


def _transfer(bed: Testbed, scenario: Scenario) -> list[str]:
    """Run server and client; return their events as notes."""
    common = ["--port", str(PORT), "--up", str(scenario.up), "--down", str(scenario.down)]
    bind = "0.0.0.0" if scenario.ip_version == 4 else "::"
    target = bed.paths[0].server_addr(scenario.ip_version)
    with bed.app("server", ["--bind", bind, *common, *scenario.server_options]) as server:
        server.wait_event("listening")
        client_args = ["--connect", target, "--pause-at", str(scenario.pause_at), *common]
        with bed.app("client", [*client_args, *scenario.client_options]) as client:
            client.wait_event("paused")
            for step in scenario.during:
                step(bed)
            time.sleep(_PAUSE)
            client.send_line()
            client.finish(check=scenario.intact)
        server.finish(check=scenario.intact)
    return [
        f"{role}: {json.dumps(event)}"
        for role, program in (("client", client), ("server", server))
        for event in program.events
    ]


def _expect_path(out_dir: Path, scenario: Scenario) -> Path:
    return out_dir / f"{scenario.name}.expect.json"


def _write_expect(scenario: Scenario, pcap: Path, observation: Observation) -> None:
    """The verdict file: what the capture must show, what it showed when made, and how it was made."""
    made = {
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": f"mptcpspec capture {scenario.name}",
    }
    data = {
        "scenario": scenario.name,
        "description": scenario.description,
        "capture": pcap.name,
        "must_show": scenario.must_show.to_dict(),
        "expected": {"violations": 0},
        "observed": observation.to_dict(),
        "made_with": made,
    }
    _expect_path(pcap.parent, scenario).write_text(json.dumps(data, indent=2) + "\n")


def _record(bed: Testbed, scenario: Scenario, pcap: Path, work: Path) -> list[str]:
    """Configure, capture the transfer into ``pcap``; return the notes."""
    for step in scenario.setup:
        step(bed)
    captures = _captures(bed, scenario, work)
    with capturing(captures):
        notes = _transfer(bed, scenario)
    lossy = [f"-i {c.out.stem} dropped {c.dropped}" for c in captures if c.dropped]
    if lossy:
        raise TestbedError(f"the capture is incomplete: tcpdump {', '.join(lossy)} packets")
    if len(captures) == 1:
        shutil.move(captures[0].out, pcap)
    else:
        run(["mergecap", "-F", "pcapng", "-w", str(pcap), *(str(c.out) for c in captures)])
    return notes + [f"tcpdump -i {c.out.stem}: {c.stats}" for c in captures]


def run_scenario(scenario: Scenario, out_dir: Path) -> ScenarioResult:
    """Make one capture in fresh namespaces and judge it; failures end up in the result, not raised."""
    pcap = out_dir / scenario.filename
    expect = _expect_path(out_dir, scenario)
    try:
        with tempfile.TemporaryDirectory(prefix="mpsc-") as tmp, Testbed(scenario.paths) as bed:
            notes = _record(bed, scenario, pcap, Path(tmp))
    except TestbedError as exc:
        return ScenarioResult(scenario.name, pcap, expect, (), error=str(exc))
    observation = observe(pcap)
    _write_expect(scenario, pcap, observation)
    problems = tuple(check(observation, scenario.must_show))
    return ScenarioResult(scenario.name, pcap, expect, tuple(notes), observation, problems)


def capture_scenarios(
    names: Sequence[str], out_dir: Path, *, log: Callable[[str], None] | None = None, jobs: int = 1
) -> list[ScenarioResult]:
    """Capture each named scenario into ``out_dir`` (``jobs`` at a time), in the order given."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in cleanup_stale():
        if log:
            log(f"removed stale namespace {name}")

    def one(name: str) -> ScenarioResult:
        started = time.monotonic()
        result = run_scenario(SCENARIOS[name], out_dir)
        if log:
            verdict = "ok" if result.ok else f"FAILED: {result.error or '; '.join(result.problems)}"
            log(f"{name}: {verdict} ({time.monotonic() - started:.1f}s) -> {result.pcap}")
        return result

    with TerminationSignals(), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, names))


_JOIN = (joins(2),)
_TWO = (await_subflows(2),)
_JOIN_BOTH = (joins(2, 3),)
_THREE = (await_subflows(3),)

_TABLE = (
    Scenario(
        "single-fin",
        "one subflow, a transfer each way, DATA_FIN close in both directions",
        MustShow(("MP_CAPABLE", "DSS"), linktype="ethernet", features=("data-fin-both-ways",)),
    ),
    Scenario(
        "join",
        "the client joins a second path (client endpoint `subflow`)",
        MustShow(("MP_CAPABLE", "MP_JOIN", "DSS"), 2, features=("data-fin-both-ways",)),
        paths=2,
        capture=CaptureMode.ANY,
        setup=_JOIN,
        during=_TWO,
    ),
    Scenario(
        "add-addr",
        "the server announces a second address (endpoint `signal`), the client joins it",
        MustShow(("MP_CAPABLE", "MP_JOIN", "DSS", "ADD_ADDR"), 2),
        paths=2,
        capture=CaptureMode.ANY,
        setup=(signal(2),),
        during=_TWO,
    ),
    Scenario(
        "remove-addr",
        "the client deletes its second endpoint mid-transfer: REMOVE_ADDR",
        MustShow(("MP_CAPABLE", "MP_JOIN", "DSS", "REMOVE_ADDR"), 2),
        paths=2,
        capture=CaptureMode.ANY,
        setup=_JOIN,
        during=(*_TWO, remove_endpoint(2), wait(0.2)),
    ),
    Scenario(
        "backup-prio",
        "a backup subflow; MP_PRIO clears and then sets its backup flag",
        MustShow(("MP_CAPABLE", "MP_JOIN", "DSS", "MP_PRIO"), 2, features=("backup-join", "mp-prio-flips")),
        paths=2,
        capture=CaptureMode.ANY,
        setup=(joins(2, backup=True),),
        during=(*_TWO, change_endpoint(2, "nobackup"), wait(0.2), change_endpoint(2, "backup")),
    ),
    Scenario(
        "fastclose",
        "the server closes with SO_LINGER 0 and unread data: MP_FASTCLOSE, MP_TCPRST",
        MustShow(("MP_CAPABLE", "MP_JOIN", "DSS", "MP_FASTCLOSE", "MP_TCPRST"), 2),
        paths=2,
        capture=CaptureMode.ANY,
        setup=_JOIN,
        during=_TWO,
        up=400_000,
        pause_at=100_000,
        server_options=("--abort-after", "200000"),
        client_options=("--expect-reset",),
    ),
    Scenario(
        "fallback-tcp-server",
        "the server is plain TCP: the SYN/ACK has no MP_CAPABLE, TCP fallback",
        MustShow(("MP_CAPABLE",), fallback=True, linktype="ethernet"),
        server_options=("--tcp",),
    ),
    Scenario(
        "fallback-optstrip",
        "a middlebox strips option 30 from the server's segments: TCP fallback",
        MustShow(("MP_CAPABLE",), fallback=True, linktype="ethernet"),
        setup=(strip_mptcp_option(),),
    ),
    Scenario(
        "checksum",
        "DSS checksums negotiated (net.mptcp.checksum_enabled=1), full payload kept",
        MustShow(("MP_CAPABLE", "DSS"), linktype="ethernet", features=("dss-checksum", "full-payload")),
        setup=(checksums(),),
        snaplen=65535,
        up=60_000,
        down=10_000,
        pause_at=30_000,
    ),
    Scenario(
        "ipv6",
        "IPv6 on two paths, the client joins the second",
        MustShow(("MP_CAPABLE", "MP_JOIN", "DSS"), 2, features=("data-fin-both-ways",)),
        paths=2,
        ip_version=6,
        capture=CaptureMode.ANY,
        setup=(joins(2, ip_version=6),),
        during=_TWO,
    ),
    Scenario(
        "loss",
        "10% random loss each way on the second path: subflow retransmissions",
        MustShow(("MP_CAPABLE", "MP_JOIN", "DSS"), 2, features=("retransmissions",)),
        paths=2,
        capture=CaptureMode.ANY,
        up=300_000,
        setup=(*_JOIN, offloads(2, on=False), drop_randomly(2, 0.1)),
        during=_TWO,
    ),
    Scenario(
        "path-down",
        "the second path's link goes down mid-transfer: data reinjected on the first",
        MustShow(("MP_CAPABLE", "MP_JOIN", "DSS"), 2, features=("reinjection",)),
        paths=2,
        capture=CaptureMode.ANY,
        up=300_000,
        pause_at=100_000,
        setup=(*_JOIN, shape(1, "20mbit"), shape(2, "20mbit")),
        during=(*_TWO, link_down(2)),
    ),
    Scenario(
        "gso-on",
        "GSO/TSO on: the capture holds super-segments longer than the MTU",
        MustShow(("MP_CAPABLE", "DSS"), linktype="ethernet", features=("super-segments",)),
        setup=(offloads(1, on=True),),
    ),
    Scenario(
        "gso-off",
        "GSO/TSO/GRO off: every segment fits the MTU",
        MustShow(("MP_CAPABLE", "DSS"), linktype="ethernet", features=("no-super-segments",)),
        setup=(offloads(1, on=False),),
    ),
    Scenario(
        "sll2",
        "three paths captured with `tcpdump -i any` (Linux cooked capture v2)",
        MustShow(("MP_CAPABLE", "MP_JOIN", "DSS"), 3),
        paths=3,
        capture=CaptureMode.ANY,
        setup=_JOIN_BOTH,
        during=_THREE,
    ),
    Scenario(
        "ethernet-pcapng",
        "three paths captured per interface (Ethernet), merged into one pcapng",
        MustShow(("MP_CAPABLE", "MP_JOIN", "DSS"), 3, linktype="ethernet"),
        paths=3,
        capture=CaptureMode.EACH,
        setup=_JOIN_BOTH,
        during=_THREE,
    ),
    Scenario(
        "mp-fail",
        "DSS checksums on, one data segment corrupted in flight: MP_FAIL, then fallback (RFC 8684 §3.7)",
        MustShow(
            ("MP_CAPABLE", "DSS", "MP_FAIL"), fallback=True, linktype="ethernet", features=("dss-checksum",)
        ),
        setup=(checksums(), offloads(1, on=False)),
        during=(corrupt_one_segment(),),
        snaplen=65535,
        up=300_000,
        down=10_000,
        intact=False,
    ),
)

SCENARIOS: Mapping[str, Scenario] = {s.name: s for s in _TABLE}
"""Every scenario by name, in the order of the table."""

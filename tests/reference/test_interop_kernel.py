"""The reference endpoint against the Linux kernel's MPTCP, through a TUN device (root; skips without).

Each case runs the kernel's side with the conformance scenario program (``apps.py``: a seeded stream up,
SHA-256 checked; a second stream down) and the reference endpoint through ``peer_connect`` or
``peer_listen``, captures the TUN device, and validates the capture with the trace checker: no
violations, and the subflows the case is about really carried data.  The endpoint's own monitor runs in
strict mode throughout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kernel_lab import KernelLab, kernel_addr, lab_unavailable_reason, ref_addr

from mptcpspec.conformance.replay import validate_file
from mptcpspec.conformance.results import FileReport
from mptcpspec.conformance.stacks.apps import stream
from mptcpspec.reference import events as ev
from mptcpspec.reference.endpoint import Endpoint
from mptcpspec.reference.state import Config
from mptcpspec.reference.tun import PeerResult, Script, peer_connect, peer_listen

_UNAVAILABLE = lab_unavailable_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"{_UNAVAILABLE}")]

PORT = 8080
SEED = 8684
UP = 2_000_000
DOWN = 20_000
STRICT = Config(strict=True)


@pytest.fixture
def lab() -> Iterator[KernelLab]:
    with KernelLab(paths=2) as built:
        yield built


def _kernel_args(*extra: str, up: int = UP, down: int = DOWN) -> list[str]:
    return [
        "--port",
        str(PORT),
        "--up",
        str(up),
        "--down",
        str(down),
        "--seed",
        str(SEED),
        "--timeout",
        "20",
        *extra,
    ]


def _validated(
    lab: KernelLab, tmp_path: Path, run: Callable[[], PeerResult], tolerated: frozenset[str] = frozenset()
) -> tuple[PeerResult, FileReport]:
    """Run the reference side while capturing its TUN device; validate the capture.  ``tolerated``: rule
    ids whose violations a case expects from the kernel's side (each use says why)."""
    capture = lab.capture(tmp_path / "tun.pcap")
    capture.start()
    try:
        result = run()
    finally:
        capture.stop()
    report = validate_file(tmp_path / "tun.pcap")
    assert report.error is None
    for findings in (report.findings, result.findings):
        assert [f.message for f in findings if f.is_violation and f.rule.id not in tolerated] == []
    return result, report


def _busy_subflows(report: FileReport, minimum: int = 20_000) -> int:
    (connection,) = report.connections
    return sum(1 for sub in connection.subflows if max(sub.bytes_sent) >= minimum)


class _Listener(threading.Thread):
    """``peer_listen`` in a thread (the kernel's client runs meanwhile); ``result()`` re-raises its error."""

    def __init__(self, lab: KernelLab, down: int, listen: dict[str, Any]) -> None:
        super().__init__()
        self.args = (lab, down, listen)
        self.outcome: PeerResult | BaseException | None = None

    def run(self) -> None:
        lab, down, listen = self.args
        try:
            listen.setdefault("config", STRICT)
            self.outcome = peer_listen(lab.device, stream(SEED + 1, down), timeout=40, **listen)
        except BaseException as error:  # handed to the test thread
            self.outcome = error

    def result(self) -> PeerResult:
        self.join()
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        assert self.outcome is not None
        return self.outcome


def _listen_in_thread(lab: KernelLab, down: int = DOWN, **listen: Any) -> _Listener:
    listener = _Listener(lab, down, listen)
    listener.start()
    return listener


def _kernel_client(
    lab: KernelLab,
    tmp_path: Path,
    *extra: str,
    up: int = UP,
    down: int = DOWN,
    tolerated: frozenset[str] = frozenset(),
    **listen: Any,
) -> tuple[PeerResult, FileReport]:
    def run() -> PeerResult:
        listener = _listen_in_thread(lab, down, **listen)
        with lab.app("client", ["--connect", ref_addr(1), *_kernel_args(*extra, up=up, down=down)]) as client:
            status = client.finish(timeout=60, check=False)
        result = listener.result()
        assert status == 0, client.events
        return result

    return _validated(lab, tmp_path, run, tolerated)


def _reference_client(
    lab: KernelLab,
    tmp_path: Path,
    *extra: str,
    up: int = UP,
    joins: tuple[tuple[str, str], ...] = ((ref_addr(2), kernel_addr(2)),),
    config: Config = STRICT,
    expect: dict[str, object] | None = None,
    early_data: bool = True,
    script: Script | None = None,
    status: int = 0,
    tolerated: frozenset[str] = frozenset(),
) -> tuple[PeerResult, FileReport]:
    expected = expect or {"event": "done", "received": up, "expected": up, "ok": True}

    def run() -> PeerResult:
        with lab.app("server", ["--bind", "0.0.0.0", *_kernel_args(*extra, up=up)]) as server:
            server.wait_event("listening")
            result = peer_connect(
                lab.device,
                ref_addr(1),
                (kernel_addr(1), PORT),
                stream(SEED, up),
                config=config,
                timeout=25,
                joins=joins,
                early_data=early_data,
                script=script,
            )
            exit_status = server.finish(timeout=30, check=False)
        assert exit_status == status, server.events
        assert server.events[-1] == expected
        return result

    return _validated(lab, tmp_path, run, tolerated)


def test_reference_client_to_kernel_server_two_subflows(lab: KernelLab, tmp_path: Path) -> None:
    result, report = _reference_client(lab, tmp_path)
    assert result.closed and not result.reset
    assert result.received == stream(SEED + 1, DOWN)
    assert _busy_subflows(report) == 2


def test_kernel_client_to_reference_server_two_subflows(lab: KernelLab, tmp_path: Path) -> None:
    lab.kernel.mptcp_endpoint(kernel_addr(2), "k2", 2, "subflow")
    result, report = _kernel_client(lab, tmp_path)
    assert result.closed and not result.reset
    assert result.received == stream(SEED, UP)
    assert _busy_subflows(report) == 2


def test_checksums_asked_by_the_kernel_and_a_bare_third_ack(lab: KernelLab, tmp_path: Path) -> None:
    lab.kernel.sysctl("net.mptcp.checksum_enabled", 1)
    result, report = _reference_client(lab, tmp_path, up=300_000, early_data=False)
    assert ev.ConnectionEstablished(False, True) in result.events
    assert report.connections[0].checksums is True


def test_kernel_announces_and_the_reference_joins(lab: KernelLab, tmp_path: Path) -> None:
    lab.kernel.mptcp_endpoint(kernel_addr(2), "k2", 2, "signal")
    result, report = _reference_client(lab, tmp_path, joins=())
    announced = [e for e in result.events if isinstance(e, ev.AddressAnnounced)]
    assert [e.address for e in announced] == [kernel_addr(2)]
    assert any(isinstance(e, ev.SubflowEstablished) and e.remote[0] == kernel_addr(2) for e in result.events)
    assert len(report.connections[0].subflows) == 2


def test_reference_announces_and_the_kernel_joins(lab: KernelLab, tmp_path: Path) -> None:
    result, report = _kernel_client(lab, tmp_path, announce=(ref_addr(2),))
    joined = [e for e in result.events if isinstance(e, ev.SubflowEstablished) and e.local[0] == ref_addr(2)]
    assert joined
    assert len(report.connections[0].subflows) == 2
    assert result.received == stream(SEED, UP)


def _later(delay: float, action: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(delay, action)
    timer.start()
    return timer


def _shape(lab: KernelLab, rate: str = "20mbit") -> None:
    for path in lab.paths:
        lab.router.shape(f"r{path}", rate, latency="20ms")
        lab.kernel.shape(f"k{path}", rate, latency="20ms")


def _cut_path_2_once_up(lab: KernelLab, timers: list[threading.Timer]) -> Script:
    """A script that cuts path 2 (router side down) a moment after the join is up, mid-transfer."""

    def script(endpoint: Endpoint, event: ev.Event, so_far: PeerResult) -> None:
        if isinstance(event, ev.SubflowEstablished) and event.subflow == 1 and not timers:
            timers.append(_later(0.15, lambda: lab.router.ip("link", "set", "r2", "down")))

    return script


def _assert_cut_and_survived(report: FileReport, timers: list[threading.Timer]) -> None:
    for timer in timers:
        timer.join()
    (connection,) = report.connections
    ends = {sub.kind: sub.end for sub in connection.subflows}
    assert len(timers) == 1 and ends == {"initial": "fin", "join": "tcprst:5"}, ends


def test_path_cut_mid_transfer_reference_client(lab: KernelLab, tmp_path: Path) -> None:
    _shape(lab, "10mbit")
    timers: list[threading.Timer] = []
    result, report = _reference_client(lab, tmp_path, script=_cut_path_2_once_up(lab, timers))
    _assert_cut_and_survived(report, timers)
    assert result.closed and result.received == stream(SEED + 1, DOWN)
    assert report.connections[0].data_bytes[0] >= UP


def test_path_cut_mid_transfer_kernel_client(lab: KernelLab, tmp_path: Path) -> None:
    lab.kernel.mptcp_endpoint(kernel_addr(2), "k2", 2, "subflow")
    _shape(lab, "10mbit")
    timers: list[threading.Timer] = []
    script = _cut_path_2_once_up(lab, timers)
    result, report = _kernel_client(lab, tmp_path, "--timeout", "40", script=script)  # kernel reinjects late
    _assert_cut_and_survived(report, timers)
    assert result.received == stream(SEED, UP)


def test_fallback_against_plain_tcp_server(lab: KernelLab, tmp_path: Path) -> None:
    result, _ = _reference_client(lab, tmp_path, "--tcp", up=300_000, joins=())
    assert ev.ConnectionEstablished(True, False) in result.events
    assert result.closed and result.received == stream(SEED + 1, DOWN)


def test_fallback_against_plain_tcp_client(lab: KernelLab, tmp_path: Path) -> None:
    result, _ = _kernel_client(lab, tmp_path, "--tcp", up=300_000)
    assert ev.ConnectionEstablished(True, False) in result.events
    assert result.received == stream(SEED, 300_000)


def test_reference_fast_close(lab: KernelLab, tmp_path: Path) -> None:
    def run() -> PeerResult:
        listener = _listen_in_thread(lab, abort_after=100_000)
        with lab.app("client", ["--connect", ref_addr(1), "--expect-reset", *_kernel_args()]) as client:
            status = client.finish(timeout=40, check=False)
        result = listener.result()
        assert status == 0, client.events
        return result

    result, report = _validated(lab, tmp_path, run)
    assert result.events[-1] == ev.ConnectionClosed(True, "fast close")
    assert report.connections[0].subflows[0].end == "fastclose"


# Linux sends its RST with MP_FASTCLOSE straight out, and the tail of a GSO burst queued before it can
# reach the wire after it: the monitor leaves data after a RST-borne MP_FASTCLOSE undetermined, so these
# cases run strict like the rest.


def test_kernel_fast_close(lab: KernelLab, tmp_path: Path) -> None:
    aborted = {"event": "aborted"}
    result, report = _reference_client(
        lab,
        tmp_path,
        "--abort-after",
        "100000",
        joins=(),
        expect=aborted,
    )
    assert result.events[-1] == ev.ConnectionClosed(True, "peer fast close")
    assert report.connections[0].state == "fastclosed"


def test_kernel_removes_its_address_mid_transfer(lab: KernelLab, tmp_path: Path) -> None:
    lab.kernel.mptcp_endpoint(kernel_addr(2), "k2", 2, "signal")
    _shape(lab, "10mbit")
    timer = _later(0.5, lambda: lab.kernel.run("ip", "mptcp", "endpoint", "delete", "id", "2"))
    result, report = _reference_client(lab, tmp_path, joins=())
    timer.join()
    assert ev.AddressRemoved(2) in result.events
    assert result.closed and not result.reset
    assert report.connections[0].data_bytes[0] >= UP


def test_reference_removes_its_address_mid_transfer(lab: KernelLab, tmp_path: Path) -> None:
    _shape(lab, "10mbit")

    def remove_second(endpoint: Endpoint, event: ev.Event, so_far: PeerResult) -> None:
        joins = [e for e in so_far.events if isinstance(e, ev.SubflowEstablished) and e.subflow > 0]
        halfway = isinstance(event, ev.DataReceived) and len(so_far.received) >= UP // 3
        if joins and halfway and ref_addr(2) in endpoint.state.pm.local_ids:
            endpoint.remove_address(ref_addr(2))

    result, report = _kernel_client(lab, tmp_path, announce=(ref_addr(2),), script=remove_second)
    assert result.received == stream(SEED, UP)
    (connection,) = report.connections
    ends = [(sub.kind, sub.end) for sub in connection.subflows]
    # The join we removed ends with our MP_TCPRST; a join the kernel may try again to the withdrawn
    # address is refused with a RST.
    assert ends[0] == ("initial", "fin") and ends[1][0] == "join" and ends[1][1].startswith("tcprst"), ends
    assert all(end.startswith(("rst", "tcprst")) for _, end in ends[2:]), ends


def test_kernel_client_with_checksums_two_subflows(lab: KernelLab, tmp_path: Path) -> None:
    lab.kernel.sysctl("net.mptcp.checksum_enabled", 1)
    lab.kernel.mptcp_endpoint(kernel_addr(2), "k2", 2, "subflow")
    result, report = _kernel_client(lab, tmp_path)
    assert ev.ConnectionEstablished(False, True) in result.events
    assert result.received == stream(SEED, UP) and _busy_subflows(report) == 2


def test_kernel_backup_join_gets_no_data_from_the_reference(lab: KernelLab, tmp_path: Path) -> None:
    lab.kernel.mptcp_endpoint(kernel_addr(2), "k2", 2, "subflow", "backup")
    result, _ = _kernel_client(lab, tmp_path, down=500_000)
    joined = [e for e in result.events if isinstance(e, ev.SubflowEstablished) and e.subflow == 1]
    assert joined and joined[0].backup
    assert result.subflow_bytes[1][0] <= 1  # nothing but perhaps our FIN went down the backup subflow
    assert result.subflow_bytes[0][0] >= 500_000


def test_reference_marks_a_subflow_backup_with_mp_prio(lab: KernelLab, tmp_path: Path) -> None:
    lab.kernel.mptcp_endpoint(kernel_addr(2), "k2", 2, "subflow")

    def backup_second(endpoint: Endpoint, event: ev.Event, so_far: PeerResult) -> None:
        if isinstance(event, ev.SubflowEstablished) and event.subflow == 1:
            endpoint.set_backup(1, True)

    result, report = _kernel_client(lab, tmp_path, script=backup_second)
    (connection,) = report.connections
    second = [sub for sub in connection.subflows if sub.kind == "join"]
    assert second and second[0].backup
    assert result.received == stream(SEED, UP)


def test_reference_client_fast_close(lab: KernelLab, tmp_path: Path) -> None:
    def abort_once_joined(endpoint: Endpoint, event: ev.Event, so_far: PeerResult) -> None:
        if isinstance(event, ev.SubflowEstablished) and event.subflow == 1:
            endpoint.abort()  # mid-upload, on both subflows

    reset = {"event": "reset", "error": "[Errno 104] Connection reset by peer"}  # the kernel's ECONNRESET
    result, report = _reference_client(lab, tmp_path, script=abort_once_joined, expect=reset, status=1)
    assert result.events[-1] == ev.ConnectionClosed(True, "fast close")
    assert report.connections[0].state == "fastclosed"


def test_kernel_client_fast_close(lab: KernelLab, tmp_path: Path) -> None:
    result, report = _kernel_client(lab, tmp_path, "--abort-after", "100000")
    assert result.events[-1] == ev.ConnectionClosed(True, "peer fast close")
    assert report.connections[0].state == "fastclosed"

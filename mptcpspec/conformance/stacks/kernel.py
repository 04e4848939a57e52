"""The ``linux`` stack: the kernel's MPTCP in a network namespace, reached through a TUN device.

As packetdrill does, the tester owns no kernel socket: one namespace ``mpcf-<pid>-<hex>`` holds the
kernel under test and a TUN interface carrying the /24 10.235.1.0 (and fd00:235:1::/64).  The kernel
owns .2 and .3 (``::2``, ``::3``); the tester's .1 and .4 are reachable only through the TUN device, so
what the kernel sends them comes out of the device and what the tester writes into it arrives as if
from the wire.  The applications are the capture scenarios' programs (``stacks/apps.py``), run with
``ip netns exec``; the in-kernel path manager is configured with ``ip mptcp`` (RFC 8684 §3.4 leaves its
policy to the implementation).  ``CommandStack`` (``stacks/command.py``) reuses all of this with a
user-given application.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Sequence
from types import TracebackType

from ...capture.tun import TunDevice, packet_to_segment, segment_to_packet
from ...spec.segment import Segment
from .base import AppOutcome, AppRun, Stack, StackConfig, StackUnavailable
from .linux import (
    Netns,
    Program,
    TerminationSignals,
    TestbedError,
    _delete_netns,
    root_unavailable_reason,
    run,
)

__all__ = ["NS_PREFIX", "KernelStack", "ProgramRun"]

NS_PREFIX = "mpcf-"
_TUN = "mpcf0"
_APPS = "mptcpspec.conformance.stacks.apps"
_HOSTS = {"tester": 1, "stack": 2, "stack_alt": 3, "tester_alt": 4}


def _address(host: str, ip_version: int) -> str:
    number = _HOSTS[host]
    return f"10.235.1.{number}" if ip_version == 4 else f"fd00:235:1::{number}"


class ProgramRun(AppRun):
    """A stack-side program: it succeeded when it exited 0 (and, if it reports ``apps.py``'s JSON-lines
    events, its ``done`` event says ``ok``); a ``reset`` event means its connection was reset."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self._outcome: AppOutcome | None = None

    def outcome(self, timeout: float) -> AppOutcome:
        if self._outcome is None:
            code = self.program.finish(timeout, check=False)
            events = {str(e.get("event")): e for e in self.program.events}
            done = events.get("done", {})
            self._outcome = AppOutcome(
                finished=code >= 0,
                ok=code == 0 and bool(done.get("ok", "done" not in events)),
                reset="reset" in events,
                detail=f"exit {code}; events {self.program.events}",
            )
        return self._outcome

    def stop(self) -> None:
        self.program.__exit__()


class KernelStack(Stack):
    """The Linux kernel under test (``--stack linux``)."""

    name = "linux"

    def __init__(self) -> None:
        self.netns = Netns(f"{NS_PREFIX}{os.getpid()}-{secrets.token_hex(3)}")
        self._tun: TunDevice | None = None
        self._config: StackConfig | None = None
        self._signals = TerminationSignals()

    def unavailable_reason(self) -> str | None:
        reason = root_unavailable_reason()
        if reason is None and not os.path.exists("/dev/net/tun"):
            reason = "/dev/net/tun is missing"
        return reason

    def stack_addr(self, ip_version: int = 4) -> str:
        return _address("stack", ip_version)

    def stack_alt_addr(self, ip_version: int = 4) -> str:
        return _address("stack_alt", ip_version)

    def tester_addr(self, ip_version: int = 4) -> str:
        return _address("tester", ip_version)

    def tester_alt_addr(self, ip_version: int = 4) -> str:
        return _address("tester_alt", ip_version)

    def __enter__(self) -> KernelStack:
        reason = self.unavailable_reason()
        if reason is not None:
            raise StackUnavailable(reason)
        self._signals.__enter__()
        try:
            self._build()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._teardown()

    def _build(self) -> None:
        run(["ip", "netns", "add", self.netns.name])
        self._tun = TunDevice.open(_TUN, netns=self.netns.name)
        ns = self.netns
        ns.ip("link", "set", "lo", "up")
        for key in ("all", "default", _TUN):
            ns.sysctl(f"net.ipv4.conf.{key}.rp_filter", 0)
        ns.sysctl("net.ipv6.conf.all.accept_dad", 0)
        ns.sysctl("net.ipv6.conf.all.router_solicitations", 0)
        for host in ("stack", "stack_alt"):
            ns.ip("addr", "add", f"{_address(host, 4)}/24", "dev", _TUN)
            ns.ip("-6", "addr", "add", f"{_address(host, 6)}/64", "dev", _TUN, "nodad")
        ns.ip("link", "set", _TUN, "up")

    def _teardown(self) -> None:
        try:
            if self._tun is not None:
                self._tun.close()
                self._tun = None
            _delete_netns(self.netns.name)
        finally:
            self._signals.__exit__()

    def configure(self, config: StackConfig) -> None:
        if config == self._config:
            return
        ns = self.netns
        ns.sysctl("net.mptcp.checksum_enabled", int(config.checksum))
        ns.mptcp_limits(subflows=config.subflows, add_addr_accepted=config.add_addr_accepted)
        ns.ip("mptcp", "endpoint", "flush")
        flags = [
            flag for flag, on in (("subflow", config.join_from_alt), ("signal", config.announce_alt)) if on
        ]
        for version in (4, 6) if flags else ():
            ns.mptcp_endpoint(self.stack_alt_addr(version), _TUN, 10 + version, *flags)  # ids 14 and 16
        self._config = config

    def set_backup(self, address: str, backup: bool) -> None:
        endpoint_id = 10 + (6 if ":" in address else 4)  # as ``configure`` numbers them
        self.netns.ip(
            "mptcp", "endpoint", "change", "id", str(endpoint_id), "backup" if backup else "nobackup"
        )

    def _program(self, role: str, options: Sequence[str]) -> Program:
        return Program(self.netns.exec_args(sys.executable, "-m", _APPS, role, "--timeout", "8", *options))

    def listen(self, port: int, *, up: int, down: int, ip_version: int = 4) -> AppRun:
        options = ["--bind", self.stack_addr(ip_version), "--port", str(port), "--up", str(up)]
        if self._config is not None and self._config.abort_after is not None:
            options += ["--abort-after", str(self._config.abort_after)]
        program = self._program("server", [*options, "--down", str(down)])
        try:
            program.wait_event("listening", timeout=10.0)
        except TestbedError:
            program.__exit__()
            raise
        return ProgramRun(program)

    def connect(self, port: int, *, up: int, down: int, ip_version: int = 4) -> AppRun:
        options = ["--connect", self.tester_addr(ip_version), "--port", str(port), "--up", str(up)]
        return ProgramRun(self._program("client", [*options, "--down", str(down)]))

    def _device(self) -> TunDevice:
        if self._tun is None:
            raise StackUnavailable("the linux stack is not set up: use it in a `with` block")
        return self._tun

    def inject(self, segment: Segment) -> None:
        self._device().write(segment_to_packet(segment))

    def receive(self, timeout: float) -> Segment | None:
        device = self._device()
        deadline = time.monotonic() + timeout
        while True:
            packet = device.read(deadline - time.monotonic())
            if packet is None:
                return None
            segment = packet_to_segment(packet, 0, time.time())
            if segment is not None:
                return segment

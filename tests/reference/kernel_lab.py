"""A two-namespace lab for running the reference endpoint against the Linux kernel (test helper).

Namespace ``mpref-<pid>-<hex>-k`` holds the kernel's MPTCP stack, with address 10.234.N.2 on path N;
namespace ``...-r`` is a router with 10.234.N.1 on path N and the reference endpoint's TUN device.  The
reference addresses 10.234.(10+N).1 are routed into the TUN and owned by no interface, so no kernel
answers for them.  The kernel routes by source address (path N's address leaves on path N), the router
by destination, so a subflow's path is the kernel-side address it uses.  The namespace commands are the
conformance testbed's (``Netns``, ``run``); only the topology is this lab's own.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from mptcpspec.conformance.stacks.linux import Netns, Program, Tcpdump, root_unavailable_reason, run
from mptcpspec.reference.tun import TunDevice, open_in_netns

__all__ = ["KernelLab", "lab_unavailable_reason"]

PREFIX = "mpref-"
APPS = "mptcpspec.conformance.stacks.apps"


def lab_unavailable_reason() -> str | None:
    """Why the lab cannot run here (no root, no MPTCP, no TUN), or None."""
    reason = root_unavailable_reason()
    if reason is None and not os.path.exists("/dev/net/tun"):
        reason = "/dev/net/tun is missing"
    return reason


def kernel_addr(path: int) -> str:
    return f"10.234.{path}.2"


def ref_addr(path: int) -> str:
    return f"10.234.{10 + path}.1"


class KernelLab:
    """Kernel and router namespaces joined by ``paths`` veth pairs, a TUN device in the router."""

    def __init__(self, paths: int = 2) -> None:
        suffix = f"{os.getpid()}-{secrets.token_hex(3)}"
        self.kernel = Netns(f"{PREFIX}{suffix}-k")
        self.router = Netns(f"{PREFIX}{suffix}-r")
        self.paths = tuple(range(1, paths + 1))
        self.tun_name = f"mpref{secrets.token_hex(2)}"
        self.tun: TunDevice | None = None

    def __enter__(self) -> KernelLab:
        try:
            self._build()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    @property
    def device(self) -> TunDevice:
        assert self.tun is not None
        return self.tun

    def _build(self) -> None:
        for ns in (self.kernel, self.router):
            run(["ip", "netns", "add", ns.name])
            ns.ip("link", "set", "lo", "up")
            ns.sysctl("net.ipv4.conf.all.rp_filter", 0)
            ns.sysctl("net.ipv4.conf.default.rp_filter", 0)
        self.router.sysctl("net.ipv4.ip_forward", 1)
        for path in self.paths:
            k_if, r_if = f"k{path}", f"r{path}"
            self.kernel.ip(
                "link", "add", k_if, "type", "veth", "peer", "name", r_if, "netns", self.router.name
            )
            self.kernel.ip("addr", "add", f"{kernel_addr(path)}/24", "dev", k_if)
            self.router.ip("addr", "add", f"10.234.{path}.1/24", "dev", r_if)
            self.kernel.ip("link", "set", k_if, "up")
            self.router.ip("link", "set", r_if, "up")
            self.kernel.ip("rule", "add", "from", kernel_addr(path), "table", str(100 + path))
            self.kernel.ip("route", "add", "default", "via", f"10.234.{path}.1", "table", str(100 + path))
            self.kernel.ip("route", "add", f"10.234.{10 + path}.0/24", "via", f"10.234.{path}.1")
        self.tun = open_in_netns(self.router.name, [ref_addr(p) for p in self.paths], self.tun_name)
        self.kernel.mptcp_limits(subflows=4, add_addr_accepted=4)

    def teardown(self) -> None:
        if self.tun is not None:
            self.tun.close()
            self.tun = None
        for ns in (self.kernel, self.router):
            for pid in run(["ip", "netns", "pids", ns.name], check=False).stdout.split():
                run(["kill", "-9", pid], check=False)
            run(["ip", "netns", "del", ns.name], check=False)

    def app(self, role: str, options: Sequence[str]) -> Program:
        """The conformance scenario program (``apps.py``) in the kernel namespace."""
        return Program(self.kernel.exec_args(sys.executable, "-m", APPS, role, *options))

    def capture(self, out: Path) -> Tcpdump:
        """tcpdump on the TUN device: every packet the reference endpoint sends and receives."""
        return Tcpdump(self.router, self.tun_name, out, snaplen=2000)

"""The Linux kernel's MPTCP in network namespaces: the testbed behind the capture scenarios.

A ``Testbed`` is two namespaces, client and server, joined by one to three veth pairs: independent paths
with addresses of the project's own (path N: 10.233.N.1 and .2, fd00:233:N::1 and ::2).  The client
routes by source address, so a subflow from path N's address leaves on path N's link.  Namespaces are
named ``mpsc-<pid>-<random>-c|s``; ``cleanup_stale`` removes those whose creating process is gone.
Teardown always runs: on leaving the ``with`` block, on an exception, on Ctrl-C, and on SIGTERM/SIGHUP
(turned into ``SystemExit`` while a testbed is up in the main thread).

Path-manager, shaping and middlebox helpers are ``Netns`` methods, so that every scenario is a short
recipe (RFC 8684 §3.4 for what the path manager announces).  The process helpers (``run``,
``Program``, ``Tcpdump``, ``capturing``) live in ``processes`` and are re-exported here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType

from .processes import Program, Tcpdump, TestbedError, capturing, run

__all__ = [
    "NS_PREFIX",
    "LinkPath",
    "Netns",
    "Program",
    "Tcpdump",
    "TerminationSignals",
    "Testbed",
    "TestbedError",
    "capturing",
    "cleanup_stale",
    "root_unavailable_reason",
    "run",
]

NS_PREFIX = "mpsc-"
_APPS_MODULE = "mptcpspec.conformance.stacks.apps"


def root_unavailable_reason() -> str | None:
    """Why namespaces with kernel MPTCP cannot be used here, or ``None`` when they can."""
    if os.geteuid() != 0:
        return "not running as root"
    for tool in ("ip", "tcpdump"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    enabled = Path("/proc/sys/net/mptcp/enabled")
    if not enabled.exists():
        return "the kernel has no MPTCP (/proc/sys/net/mptcp is missing)"
    if enabled.read_text().strip() != "1":
        return "MPTCP is disabled (net.mptcp.enabled is not 1)"
    if run(["ip", "netns", "list"], check=False).returncode != 0:
        return "`ip netns` does not work here"
    return None


def _creator_alive(name: str) -> bool:
    """Whether the process that made namespace ``mpsc-<pid>-...`` still runs."""
    pid = name[len(NS_PREFIX) :].split("-")[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        pass
    return True


def _delete_netns(name: str) -> None:
    pids = run(["ip", "netns", "pids", name], check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    run(["ip", "netns", "del", name], check=False)


def cleanup_stale() -> list[str]:
    """Delete the ``mpsc-`` namespaces (and their processes) whose creating process has exited."""
    names = [line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()]
    stale = [n for n in names if n.startswith(NS_PREFIX) and not _creator_alive(n)]
    for name in stale:
        _delete_netns(name)
    return stale


@dataclass(frozen=True, slots=True)
class LinkPath:
    """Path ``index`` (1 to 3): veth ``c<index>`` in the client namespace, ``s<index>`` in the server."""

    index: int

    @property
    def client_if(self) -> str:
        return f"c{self.index}"

    @property
    def server_if(self) -> str:
        return f"s{self.index}"

    def client_addr(self, ip_version: int = 4) -> str:
        return f"10.233.{self.index}.1" if ip_version == 4 else f"fd00:233:{self.index}::1"

    def server_addr(self, ip_version: int = 4) -> str:
        return f"10.233.{self.index}.2" if ip_version == 4 else f"fd00:233:{self.index}::2"


@dataclass(frozen=True, slots=True)
class Netns:
    """One named network namespace and the commands the scenarios run in it."""

    name: str

    def exec_args(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(self.exec_args(*args), check=check)

    def ip(self, *args: str) -> None:
        run(["ip", "-n", self.name, *args])

    def sysctl(self, key: str, value: str | int) -> None:
        self.run("sysctl", "-q", "-w", f"{key}={value}")

    def mptcp_limits(self, *, subflows: int, add_addr_accepted: int = 0) -> None:
        """The in-kernel path manager's limits (RFC 8684 §3.4 leaves them to the implementation)."""
        self.ip(
            "mptcp", "limits", "set", "subflows", str(subflows), "add_addr_accepted", str(add_addr_accepted)
        )

    def mptcp_endpoint(self, address: str, dev: str, endpoint_id: int, *flags: str) -> None:
        """Add an endpoint: ``subflow`` opens MP_JOINs from it, ``signal`` announces it with ADD_ADDR."""
        self.ip("mptcp", "endpoint", "add", address, "dev", dev, "id", str(endpoint_id), *flags)

    def iptables(self, ip_version: int, *rule: str) -> None:
        self.run("iptables" if ip_version == 4 else "ip6tables", *rule)

    def shape(self, dev: str, rate: str, *, burst: str = "32kb", latency: str = "100ms") -> None:
        """Limit the egress rate of ``dev`` with a token bucket (this kernel has no netem)."""
        self.run(
            "tc", *f"qdisc replace dev {dev} root tbf rate {rate} burst {burst} latency {latency}".split()
        )

    def wait_established(self, port: int, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` TCP connections (MPTCP subflows count one each) to ``port`` are up."""
        deadline = time.monotonic() + timeout
        while True:
            listing = self.run("ss", "-Htn", "state", "established", f"( dport = :{port} )").stdout
            up = len(listing.splitlines())
            if up >= count:
                return
            if time.monotonic() > deadline:
                raise TestbedError(
                    f"{self.name}: {up} connections to port {port} after {timeout}s, not {count}"
                )
            time.sleep(0.05)

    def offloads(self, dev: str, on: bool) -> None:
        """Turn GSO, TSO and GRO on or off: with them on, captures show super-segments."""
        state = "on" if on else "off"
        self.run("ethtool", "-K", dev, "gso", state, "tso", state, "gro", state)


class TerminationSignals:
    """While active in the main thread, SIGTERM and SIGHUP raise ``SystemExit`` so teardown runs."""

    _SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self._previous: dict[int, object] = {}

    @staticmethod
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._raise) for s in self._SIGNALS}

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous = {}


class Testbed:
    """Client and server namespaces joined by ``paths`` veth pairs, torn down on exit whatever happens."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, paths: int = 1) -> None:
        if not 1 <= paths <= 3:
            raise ValueError(f"a testbed has 1 to 3 paths, not {paths}")
        suffix = f"{os.getpid()}-{secrets.token_hex(3)}"
        self.client = Netns(f"{NS_PREFIX}{suffix}-c")
        self.server = Netns(f"{NS_PREFIX}{suffix}-s")
        self.paths = tuple(LinkPath(i) for i in range(1, paths + 1))
        self._signals = TerminationSignals()

    def __enter__(self) -> Testbed:
        self._signals.__enter__()
        try:
            self._build()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.teardown()

    def _build(self) -> None:
        for ns in (self.client, self.server):
            run(["ip", "netns", "add", ns.name])
            ns.ip("link", "set", "lo", "up")
            ns.sysctl("net.ipv4.conf.all.rp_filter", 0)
            ns.sysctl("net.ipv4.conf.default.rp_filter", 0)
        for path in self.paths:
            self._link(path)

    def _link(self, path: LinkPath) -> None:
        """One veth pair; the client sends from path N's addresses over path N's link (policy routing)."""
        veth = f"link add {path.client_if} type veth peer name {path.server_if} netns {self.server.name}"
        self.client.ip(*veth.split())
        ends = (
            (self.client, path.client_if, path.client_addr),
            (self.server, path.server_if, path.server_addr),
        )
        for ns, dev, address in ends:
            ns.ip("addr", "add", f"{address(4)}/24", "dev", dev)
            ns.ip("-6", "addr", "add", f"{address(6)}/64", "dev", dev, "nodad")
            ns.ip("link", "set", dev, "up")
        table = str(100 + path.index)
        for version in (4, 6):
            family = f"-{version}"
            self.client.ip(family, "rule", "add", "from", path.client_addr(version), "table", table)
            route = f"route add default via {path.server_addr(version)} dev {path.client_if} table {table}"
            self.client.ip(family, *route.split())

    def teardown(self) -> None:
        """Delete both namespaces, killing whatever still runs in them."""
        try:
            for ns in (self.client, self.server):
                _delete_netns(ns.name)
        finally:
            self._signals.__exit__()

    def app(self, role: str, options: Sequence[str]) -> Program:
        """Start the scenario program (``apps.py``) as ``role`` in its namespace."""
        ns = self.server if role == "server" else self.client
        return Program(ns.exec_args(sys.executable, "-m", _APPS_MODULE, role, *options))

"""The steps scenarios are made of: each factory returns a ``Step``, a function applied to a ``Testbed``.

Path numbers are 1-based (path 1 carries the initial subflow).  Steps configure the in-kernel path
manager (RFC 8684 §3.2 joins, §3.4 address signalling, §3.3.8 priorities), shape or break a path, or
put a middlebox on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .linux import Netns, Testbed

__all__ = [
    "PORT",
    "Step",
    "await_subflows",
    "change_endpoint",
    "checksums",
    "corrupt_one_segment",
    "drop_randomly",
    "joins",
    "link_down",
    "offloads",
    "remove_endpoint",
    "shape",
    "signal",
    "strip_mptcp_option",
    "wait",
]

PORT = 8080
Step = Callable[[Testbed], None]


def joins(*paths: int, ip_version: int = 4, backup: bool = False) -> Step:
    """Client ``subflow`` endpoints on ``paths`` (endpoint id = path number): it opens MP_JOINs there."""

    def step(bed: Testbed) -> None:
        bed.server.mptcp_limits(subflows=len(paths))
        bed.client.mptcp_limits(subflows=len(paths))
        flags = ("subflow", "backup") if backup else ("subflow",)
        for index in paths:
            path = bed.paths[index - 1]
            bed.client.mptcp_endpoint(path.client_addr(ip_version), path.client_if, index, *flags)

    return step


def signal(path_index: int, ip_version: int = 4) -> Step:
    """A server ``signal`` endpoint: the server announces path ``path_index``'s address (ADD_ADDR)."""

    def step(bed: Testbed) -> None:
        path = bed.paths[path_index - 1]
        bed.server.mptcp_limits(subflows=1)
        bed.client.mptcp_limits(subflows=1, add_addr_accepted=1)
        bed.server.mptcp_endpoint(path.server_addr(ip_version), path.server_if, path_index, "signal")

    return step


def await_subflows(count: int) -> Step:
    """Wait until the client has ``count`` established subflows to the server."""
    return lambda bed: bed.client.wait_established(PORT, count)


def wait(seconds: float) -> Step:
    """Give the kernel time to act (send a REMOVE_ADDR, detect a dead path, ...)."""
    return lambda bed: time.sleep(seconds)


def remove_endpoint(endpoint_id: int) -> Step:
    """Delete a client endpoint on a live connection: the kernel sends REMOVE_ADDR (RFC 8684 §3.4.2)."""
    return lambda bed: bed.client.ip("mptcp", "endpoint", "delete", "id", str(endpoint_id))


def change_endpoint(endpoint_id: int, flag: str) -> Step:
    """``backup`` or ``nobackup`` on a live client endpoint: the kernel sends MP_PRIO (RFC 8684 §3.3.8)."""
    return lambda bed: bed.client.ip("mptcp", "endpoint", "change", "id", str(endpoint_id), flag)


def checksums() -> Step:
    """Ask for DSS checksums on both hosts (``net.mptcp.checksum_enabled``, RFC 8684 §3.3.1)."""

    def step(bed: Testbed) -> None:
        for ns in (bed.client, bed.server):
            ns.sysctl("net.mptcp.checksum_enabled", 1)

    return step


def _each_end(path_index: int, action: Callable[[Netns, str], None]) -> Step:
    """Apply ``action(namespace, interface)`` to both ends of a path."""

    def step(bed: Testbed) -> None:
        path = bed.paths[path_index - 1]
        action(bed.client, path.client_if)
        action(bed.server, path.server_if)

    return step


def offloads(path_index: int, on: bool) -> Step:
    """GSO/TSO/GRO on or off at both ends of a path."""
    return _each_end(path_index, lambda ns, dev: ns.offloads(dev, on))


def shape(path_index: int, rate: str) -> Step:
    """Limit a path to ``rate`` in both directions (token bucket)."""
    return _each_end(path_index, lambda ns, dev: ns.shape(dev, rate))


def drop_randomly(path_index: int, probability: float, ip_version: int = 4) -> Step:
    """Random loss on a path, at the server (so the client's capture still shows what is then lost)."""

    def step(bed: Testbed) -> None:
        dev = bed.paths[path_index - 1].server_if
        for chain, direction in (("INPUT", "-i"), ("OUTPUT", "-o")):
            bed.server.iptables(
                ip_version,
                "-A",
                chain,
                direction,
                dev,
                "-p",
                "tcp",
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                str(probability),
                "-j",
                "DROP",
            )

    return step


def strip_mptcp_option(ip_version: int = 4) -> Step:
    """A middlebox at the server's egress that removes TCP option 30 (MPTCP) from every segment."""
    return lambda bed: bed.server.iptables(
        ip_version,
        "-t",
        "mangle",
        "-A",
        "POSTROUTING",
        "-p",
        "tcp",
        "-j",
        "TCPOPTSTRIP",
        "--strip-options",
        "30",
    )


def link_down(path_index: int) -> Step:
    """Take a path's server end down: the client's interface loses carrier, its subflow goes stale."""
    return lambda bed: bed.server.ip("link", "set", bed.paths[path_index - 1].server_if, "down")


def corrupt_one_segment(nth: int = 2) -> Step:
    """Overwrite 4 payload bytes of the ``nth`` (from 0) large data segment the client sends from now on.

    nftables mangles the bytes after the TCP header at the client's output hook, which sees TCP's
    unsegmented (GSO) buffers, so ``nth`` counts those.  The TCP checksum is left to the veth offload:
    TCP accepts the segment and only the DSS checksum (RFC 8684 §3.3.1) can catch the damage.  Linux
    answers with MP_FAIL only once a mapping of the subflow has passed its checksum (before that it
    falls back silently): apply this step once the first mapping has been acknowledged.
    """

    rule = f"tcp dport {PORT} meta length > 1000 numgen inc mod 1000000 == {nth} @ih,0,32 set 0x4d505443"

    def step(bed: Testbed) -> None:
        bed.client.run("nft", "add", "table", "inet", "mpsc")
        bed.client.run(
            "nft", "add", "chain", "inet", "mpsc", "out", "{ type filter hook output priority 0; }"
        )
        bed.client.run("nft", "add", "rule", "inet", "mpsc", "out", *rule.split())

    return step

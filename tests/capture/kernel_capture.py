"""Real captures of the kernel's MPTCP, made with tcpdump between two network namespaces.

``kernel_capture(out, ...)`` builds namespaces ``mpcap-<pid>-c`` and ``mpcap-<pid>-s`` joined by two
veth paths (10.232.1.0/24 and 10.232.2.0/24, the client's second address a subflow endpoint), runs
tcpdump in the client namespace, sends two UDP datagrams (so there is non-TCP traffic: UDP, ARP,
ICMP) and one MPTCP bulk transfer, and tears everything down.  Used by the capture tests for small
files from ``tcpdump -i any`` (SLL2) and ``tcpdump -y LINUX_SLL`` (SLL), and to remake the fixture
``fixtures/kernel-mptcp-sll2.pcap`` (``kernel_capture(path, nbytes=20_000)``).  Large benchmark
captures come from ``bench/make_bulk_capture.py``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["kernel_capture", "unavailable_reason"]

_PATHS = (1, 2)
_PORT = 5201
_UDP = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(2):
    s.sendto(b"not tcp", ("10.232.1.2", 9))
"""
_TRANSFER = """
import socket, sys
mode, host, port, nbytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
if mode == "server":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(1); print("ready", flush=True)
    c, _ = s.accept()
    while c.recv(1 << 16):
        pass
    c.close()
else:
    import time
    s.connect((host, port))
    chunk = bytes(1 << 16)
    sent = s.send(chunk[:1000])
    # Wait (up to 5 s) for the path manager's join: MPTCP_INFO's first byte counts extra subflows.
    deadline = time.monotonic() + 5
    while s.getsockopt(284, 1, 64)[0] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    while sent < nbytes:
        sent += s.send(chunk[: min(len(chunk), nbytes - sent)])
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()
"""


def unavailable_reason() -> str | None:
    """Why kernel captures cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for tool in ("ip", "tcpdump", "ethtool"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    enabled = Path("/proc/sys/net/mptcp/enabled")
    if not enabled.exists() or enabled.read_text().strip() != "1":
        return "the kernel has no MPTCP, or net.mptcp.enabled is not 1"
    return None


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def _in(ns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *args]


@contextlib.contextmanager
def _namespaces() -> Iterator[tuple[str, str]]:
    """Client and server namespaces joined by two veth paths, offloads off, MPTCP limits set."""
    client, server = f"mpcap-{os.getpid()}-c", f"mpcap-{os.getpid()}-s"
    try:
        _run("ip", "netns", "add", client)
        _run("ip", "netns", "add", server)
        for path in _PATHS:
            _run(
                "ip",
                "link",
                "add",
                f"c{path}",
                "netns",
                client,
                "type",
                "veth",
                "peer",
                f"s{path}",
                "netns",
                server,
            )
            for ns, dev, host in ((client, f"c{path}", 1), (server, f"s{path}", 2)):
                _run(*_in(ns, "ip", "addr", "add", f"10.232.{path}.{host}/24", "dev", dev))
                _run(*_in(ns, "ip", "link", "set", dev, "up"))
                _run(*_in(ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off"))
        for ns in (client, server):
            _run(*_in(ns, "ip", "link", "set", "lo", "up"))
            _run(*_in(ns, "ip", "mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "2"))
        _run(*_in(client, "ip", "mptcp", "endpoint", "add", "10.232.2.1", "dev", "c2", "id", "2", "subflow"))
        yield client, server
    finally:
        for ns in (client, server):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _wait_for(proc: subprocess.Popen[bytes], stream_text: bytes, timeout: float = 10.0) -> None:
    """Read the process's stream (stderr for tcpdump, stdout for the server) until ``stream_text``."""
    stream = proc.stderr if proc.stderr is not None else proc.stdout
    assert stream is not None
    deadline, seen = time.monotonic() + timeout, b""
    while stream_text not in seen:
        line = stream.readline()
        if not line or time.monotonic() > deadline:
            raise RuntimeError(f"did not see {stream_text!r}: {seen.decode(errors='replace')}")
        seen += line


def kernel_capture(
    out: Path, *, nbytes: int = 200_000, snaplen: int = 128, tcpdump_args: Sequence[str] = ()
) -> Path:
    """Capture two UDP datagrams and one MPTCP transfer of ``nbytes`` (client to server) into ``out``.

    ``tcpdump_args`` are extra tcpdump options such as ``-y LINUX_SLL``.
    """
    with _namespaces() as (client, server):
        dump = subprocess.Popen(
            _in(client, "tcpdump", "-i", "any", "-s", str(snaplen), "-n", "-U", "--immediate-mode",
                "-w", str(out), *tcpdump_args),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            _wait_for(dump, b"listening on")
            _run(*_in(client, sys.executable, "-c", _UDP))
            _transfer(client, server, nbytes)
        finally:
            time.sleep(0.3)
            if dump.poll() is None:
                dump.send_signal(signal.SIGINT)
            dump.communicate(timeout=30)
    return out


def _transfer(client: str, server: str, nbytes: int) -> None:
    """Run the MPTCP transfer: a server in one namespace, a client sending ``nbytes`` from the other."""
    code = [sys.executable, "-c", _TRANSFER]
    srv = subprocess.Popen(_in(server, *code, "server", "0.0.0.0", str(_PORT), "0"), stdout=subprocess.PIPE)
    try:
        _wait_for(srv, b"ready")
        subprocess.run(
            _in(client, *code, "client", "10.232.1.2", str(_PORT), str(nbytes)), check=True, timeout=60
        )
    finally:
        srv.kill()
        srv.wait()

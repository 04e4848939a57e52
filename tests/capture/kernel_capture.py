"""Real captures of the kernel's MPTCP, made with tcpdump between two network namespaces.

``kernel_capture(out, ...)`` builds namespaces ``mpcap-<pid>-c`` and ``mpcap-<pid>-s`` joined by two
veth paths (10.232.1.0/24 and 10.232.2.0/24, the client's second address a subflow endpoint), runs
tcpdump in the client namespace, sends two UDP datagrams (so there is non-TCP traffic: UDP, ARP,
ICMP) and one MPTCP bulk transfer, and tears everything down.  Used by the capture tests (small
files, ``tcpdump -i any`` and ``-y LINUX_SLL``) and to make the large headers-only capture for
``bench/read_capture.py``:

    .venv/bin/python -m tests.capture.kernel_capture /tmp/big.pcap --packets 300000
"""

from __future__ import annotations

import argparse
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
    s.connect((host, port))
    chunk = bytes(1 << 16)
    sent = 0
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
    if (
        Path("/proc/sys/net/mptcp/enabled").read_text().strip() != "1"
        if Path("/proc/sys/net/mptcp/enabled").exists()
        else True
    ):
        return "the kernel has no MPTCP enabled"
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
    out: Path,
    *,
    nbytes: int = 200_000,
    packets: int = 0,
    snaplen: int = 128,
    tcpdump_args: Sequence[str] = (),
) -> Path:
    """Capture pings and one MPTCP transfer of ``nbytes`` (client to server) into ``out``.

    ``packets`` > 0 makes tcpdump stop after that many packets and the transfer run until then (for
    the benchmark); ``tcpdump_args`` are extra options such as ``-y LINUX_SLL``.
    """
    with _namespaces() as (client, server):
        dump = subprocess.Popen(
            _in(client, "tcpdump", "-i", "any", "-s", str(snaplen), "-n", "-U", "--immediate-mode",
                "-w", str(out), *(["-c", str(packets)] if packets else []), *tcpdump_args),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            _wait_for(dump, b"listening on")
            _run(*_in(client, sys.executable, "-c", _UDP))
            _transfer(client, server, nbytes if not packets else 1 << 40, dump if packets else None)
        finally:
            time.sleep(0.3)
            if dump.poll() is None:
                dump.send_signal(signal.SIGINT)
            dump.communicate(timeout=30)
    return out


def _transfer(client: str, server: str, nbytes: int, until: subprocess.Popen[bytes] | None) -> None:
    """Run the MPTCP transfer; with ``until``, stop it as soon as that process (tcpdump -c) exits."""
    code = [sys.executable, "-c", _TRANSFER]
    srv = subprocess.Popen(_in(server, *code, "server", "0.0.0.0", str(_PORT), "0"), stdout=subprocess.PIPE)
    try:
        _wait_for(srv, b"ready")
        cli = subprocess.Popen(_in(client, *code, "client", "10.232.1.2", str(_PORT), str(nbytes)))
        try:
            if until is None:
                cli.wait(timeout=60)
            else:
                until.wait(timeout=600)
        finally:
            if cli.poll() is None:
                cli.kill()
            cli.wait()
    finally:
        srv.kill()
        srv.wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--packets", type=int, default=300_000)
    parser.add_argument("--snaplen", type=int, default=128)
    args = parser.parse_args(argv)
    kernel_capture(args.out, packets=args.packets, snaplen=args.snaplen)


if __name__ == "__main__":
    main()

"""Processes the testbed runs: commands, JSON-lines programs, and tcpdump captures.

``run`` runs a command and turns a failure into ``TestbedError``; ``Program`` runs a process whose
stdout is one JSON event a line (the scenario apps); ``Tcpdump`` captures, returning from ``start``
only once tcpdump listens; ``capturing`` keeps captures running for the duration of a block.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from ...spec.errors import MptcpError

__all__ = ["Program", "Tcpdump", "TestbedError", "capturing", "run"]

_PROJECT_ROOT = Path(__file__).resolve().parents[3]


class _Namespace(Protocol):
    """Anything that can prefix a command to run it in a network namespace (``linux.Netns``)."""

    def exec_args(self, *args: str) -> list[str]: ...


class TestbedError(MptcpError):
    """A command of the testbed failed (namespace, link, path manager, capture or traffic program)."""


def run(
    args: Sequence[str], *, check: bool = True, timeout: float = 20.0
) -> subprocess.CompletedProcess[str]:
    """Run a command; with ``check``, a non-zero exit raises ``TestbedError`` quoting its stderr."""
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise TestbedError(f"`{' '.join(args)}` exited {proc.returncode}: {proc.stderr.strip()}")
    return proc


def _wait_readable(fd: int, deadline: float) -> bool:
    remaining = deadline - time.monotonic()
    return remaining > 0 and bool(select.select([fd], [], [], remaining)[0])


class Program:
    """A process whose stdout is JSON lines (``{"event": ...}``); killed on exit if still running."""

    def __init__(self, args: Sequence[str]) -> None:
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(filter(None, [str(_PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        )
        self.args = list(args)
        self.events: list[dict[str, object]] = []
        self._proc = subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def __enter__(self) -> Program:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()

    def wait_event(self, name: str, timeout: float = 10.0) -> dict[str, object]:
        """Read events until one named ``name``; ``TestbedError`` on exit or timeout first."""
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        while _wait_readable(self._proc.stdout.fileno(), deadline):
            line = self._proc.stdout.readline()
            if not line:
                break
            event = json.loads(line)
            self.events.append(event)
            if event.get("event") == name:
                return dict(event)
        raise TestbedError(f"{self.args[-1]}: no {name!r} event within {timeout}s; seen {self.events}")

    def send_line(self, text: str = "go") -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(text + "\n")
        self._proc.stdin.flush()

    def finish(self, timeout: float = 30.0, *, check: bool = True) -> int:
        """Wait for the exit and record the remaining events; with ``check``, a failure raises
        ``TestbedError`` quoting stderr."""
        try:
            out, err = self._proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            out, err = self._proc.communicate()
        self.events.extend(json.loads(line) for line in out.splitlines() if line.strip())
        if check and self._proc.returncode != 0:
            raise TestbedError(
                f"`{' '.join(self.args)}` exited {self._proc.returncode}; events "
                f"{self.events}; stderr: {err.strip()[-500:]}"
            )
        return self._proc.returncode


class Tcpdump:
    """tcpdump in a namespace writing ``out``; ``start`` returns once it listens, ``stop`` flushes it.

    ``linktype`` (e.g. ``LINUX_SLL2``) asks for that link-layer header instead of the interface default.
    """

    def __init__(
        self, ns: _Namespace, interface: str, out: Path, *, snaplen: int = 200, linktype: str | None = None
    ) -> None:
        self.out = out
        options = f"-i {interface} -s {snaplen} -n -U --immediate-mode -Z root -w {out}"
        link = ("-y", linktype) if linktype else ()
        self.args = ns.exec_args("tcpdump", *options.split(), *link, "tcp")
        self.stats = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self._proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self._proc.stderr is not None
        deadline, seen = time.monotonic() + timeout, b""
        while b"listening on" not in seen:
            fd = self._proc.stderr.fileno()
            if not _wait_readable(fd, deadline) or not (chunk := os.read(fd, 4096)):
                self.stop()
                raise TestbedError(f"tcpdump did not start: {seen.decode(errors='replace').strip()}")
            seen += chunk

    def stop(self, settle: float = 0.3) -> str:
        """Let the last packets arrive, stop with SIGINT, and return tcpdump's packet counts."""
        if self._proc is None:
            return self.stats
        if self._proc.poll() is None:
            time.sleep(settle)
            self._proc.send_signal(signal.SIGINT)
        try:
            _, err = self._proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            _, err = self._proc.communicate()
        self._proc = None
        self.stats = " ".join(line for line in err.decode(errors="replace").splitlines() if "packets" in line)
        return self.stats

    @property
    def dropped(self) -> int:
        """Packets the kernel dropped before tcpdump saw them (from the counts ``stop`` returned)."""
        found = re.search(r"(\d+) packets? dropped by kernel", self.stats)
        return int(found.group(1)) if found else 0


@contextlib.contextmanager
def capturing(captures: Sequence[Tcpdump]) -> Iterator[Sequence[Tcpdump]]:
    """Run every capture for the duration of the block; they are stopped (and flushed) whatever happens."""
    try:
        for capture in captures:
            capture.start()
        yield captures
    finally:
        for capture in captures:
            capture.stop()

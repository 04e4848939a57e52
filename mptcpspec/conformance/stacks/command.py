"""The ``command`` stack: any MPTCP implementation that runs on Linux, started by a user's command.

``--stack command:'CMD'`` runs CMD in the linux stack's namespace (same TUN, addresses and path-manager
knobs as ``kernel.py``) instead of the project's ``apps.py``.  CMD is split like a shell line and each
word may use ``{role}`` (``server`` or ``client``), ``{address}`` (where a server binds, or the address a
client connects to), ``{port}``, ``{up}``, ``{down}`` and ``{seed}``.  The program must move the same
bytes as ``apps.py`` does (``stream(seed, up)`` from client to server, ``stream(seed + 1, down)`` back;
``python -m mptcpspec.conformance.stacks.apps`` shows how) and exit 0 when it received the right ones;
it may print ``apps.py``'s JSON-lines events (a ``reset`` event lets fast-close cases see the reset).
A server is ready once its port listens.
"""

from __future__ import annotations

import shlex
import time

from .base import AppRun
from .kernel import KernelStack, ProgramRun
from .linux import Program, TestbedError

__all__ = ["CommandStack"]

_SEED = 8684


class CommandStack(KernelStack):
    """A user-given application over the kernel in the namespace (``--stack command:'...'``)."""

    name = "command"

    def __init__(self, command: str) -> None:
        super().__init__()
        if not command.strip():
            raise ValueError("the command stack needs a command line")
        self.command = command

    def _start(self, role: str, address: str, port: int, up: int, down: int) -> ProgramRun:
        values = {"role": role, "address": address, "port": port, "up": up, "down": down, "seed": _SEED}
        args = [word.format(**values) for word in shlex.split(self.command)]
        return ProgramRun(Program(self.netns.exec_args(*args)))

    def listen(self, port: int, *, up: int, down: int, ip_version: int = 4) -> AppRun:
        started = self._start("server", self.stack_addr(ip_version), port, up, down)
        deadline = time.monotonic() + 10.0
        while not self.netns.run("ss", "-Htln", f"( sport = :{port} )").stdout.strip():
            if time.monotonic() > deadline:
                started.stop()
                raise TestbedError(f"`{self.command}` did not listen on port {port} within 10 s")
            time.sleep(0.02)
        return started

    def connect(self, port: int, *, up: int, down: int, ip_version: int = 4) -> AppRun:
        return self._start("client", self.tester_addr(ip_version), port, up, down)

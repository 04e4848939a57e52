"""The stack adapters and the TUN primitive: packets in and out of a namespace, the linux, command and
reference stacks answering a handshake."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mptcpspec.capture.tun import TunDevice, packet_to_segment, segment_to_packet
from mptcpspec.conformance.conform import run_suite
from mptcpspec.conformance.stacks.base import StackConfig
from mptcpspec.conformance.stacks.command import CommandStack
from mptcpspec.conformance.stacks.kernel import KernelStack
from mptcpspec.conformance.stacks.reference import ReferenceStack
from mptcpspec.conformance.suite.case import Status
from mptcpspec.spec.options import Dss, MpCapable
from mptcpspec.spec.segment import RST, SYN, Segment

_SYN = Segment(
    0, 0.0, 4, "10.235.9.1", "10.235.9.2", 40000, 9, 1000, 0, SYN, 65535, 0, mptcp=(MpCapable(1, 1),)
)


def test_packet_round_trip() -> None:
    data = Segment(0, 0.0, 6, "fd00::1", "fd00::2", 1, 2, 5, 6, 0x18, 100, 3, b"abc",
                   mptcp=(Dss(data_ack=7, data_ack_wide=True),))  # fmt: skip
    for segment in (_SYN, data):
        back = packet_to_segment(segment_to_packet(segment), 3, 1.5)
        assert back is not None
        assert (back.frame, back.time, back.src, back.dst, back.seq, back.ack, back.flags) == (
            3, 1.5, segment.src, segment.dst, segment.seq, segment.ack, segment.flags)  # fmt: skip
        assert back.mptcp == segment.mptcp and back.payload == segment.payload
    assert packet_to_segment(b"\x45" + bytes(30), 1, 0.0) is None


def test_tun_name_checked() -> None:
    with pytest.raises(ValueError):
        TunDevice.open("a-name-longer-than-15")


@pytest.mark.root
def test_tun_in_a_namespace_gets_the_kernels_reset() -> None:
    """A SYN to a closed port of the namespace's kernel comes back out of the device as a RST."""
    netns = f"mpcf-{os.getpid()}-tun"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        with TunDevice.open("mpcftest", netns=netns) as device:
            for args in (
                ["addr", "add", "10.235.9.2/24", "dev", "mpcftest"],
                ["link", "set", "mpcftest", "up"],
            ):
                subprocess.run(["ip", "-n", netns, *args], check=True)
            assert "mpcftest" not in subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
            device.write(segment_to_packet(_SYN))
            reply = None
            while reply is None or reply.dst != _SYN.src:
                packet = device.read(2.0)
                assert packet is not None, "no reply from the namespace"
                reply = packet_to_segment(packet, 1, 0.0)
            assert reply.flags & RST and reply.ack == _SYN.seq + 1
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


@pytest.mark.root
def test_kernel_stack_configures_the_path_manager() -> None:
    with KernelStack() as stack:
        stack.configure(StackConfig(checksum=True, subflows=1, join_from_alt=True))
        assert stack.netns.run("sysctl", "-n", "net.mptcp.checksum_enabled").stdout.strip() == "1"
        assert "subflows 1" in stack.netns.run("ip", "mptcp", "limits").stdout
        assert stack.stack_alt_addr() in stack.netns.run("ip", "mptcp", "endpoint").stdout
    assert stack.netns.name not in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout


@pytest.mark.root
def test_command_stack_runs_the_users_program() -> None:
    """The project's own apps as the user's command: bind or connect chosen by the shell from {role}."""
    apps = f"{sys.executable} -m mptcpspec.conformance.stacks.apps"
    choose = "$( [ {role} = server ] && echo --bind || echo --connect )"
    stack = CommandStack(
        f"sh -c 'exec {apps} {{role}} --port {{port}} --up {{up}} --down {{down}} {choose} {{address}}'"
    )
    suite = run_suite(stack, pattern="fastclose.right-key")
    assert [r.status for r in suite.results[:2]] == [Status.PASSED, Status.PASSED], [
        r.message for r in suite.results
    ]


def test_reference_stack_answers_a_syn() -> None:
    stack = ReferenceStack()
    with stack:
        app = stack.listen(9, up=1, down=1)
        syn = Segment(0, 0.0, 4, stack.tester_addr(), stack.stack_addr(), 40000, 9, 1000, 0, SYN, 65535, 0,
                      mptcp=(MpCapable(1, 1),))  # fmt: skip
        stack.inject(syn)
        reply = stack.receive(1.0)
        assert reply is not None and reply.syn and reply.ack == 1001
        assert isinstance(reply.mptcp[0], MpCapable) and reply.mptcp[0].sender_key is not None
        app.stop()

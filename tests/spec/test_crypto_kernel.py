"""Acceptance: mptcpspec.spec.crypto computes exactly what the Linux kernel's MPTCP puts on the wire.

One MPTCP v1 connection between two network namespaces joined by two veth paths, DSS checksums on
(net.mptcp.checksum_enabled=1 on both sides).  The server announces its second address (ADD_ADDR with
HMAC, RFC 8684 §3.4.1); the client joins that address and also joins from its own second address
(MP_JOIN, §3.2); then data flows both ways.  The kernel's own view of the tokens and IDSNs is read with
``ss -M`` before any data is sent; the capture is read with mptcpspec.capture, and every token, IDSN,
MP_JOIN HMAC, ADD_ADDR HMAC and DSS checksum in it is recomputed from the MP_CAPABLE keys.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest

from mptcpspec.capture import open_capture
from mptcpspec.conformance.stacks import linux
from mptcpspec.conformance.stacks.linux import Netns, Tcpdump, capturing, root_unavailable_reason
from mptcpspec.spec.crypto import (
    add_addr_hmac,
    dss_checksum_ok,
    join_ack_hmac,
    join_synack_hmac,
    key_idsn,
    key_token,
)
from mptcpspec.spec.options import AddAddr, Dss, MpCapable, MpJoinAck, MpJoinSyn, MpJoinSynAck, MptcpOption
from mptcpspec.spec.segment import Segment
from mptcpspec.spec.seqnum import infer_dsn64, seq_add, seq_diff

_UNAVAILABLE = root_unavailable_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"{_UNAVAILABLE}")]

UP, DOWN = 300_000, 200_000
Flow = tuple[str, int, str, int]
OptionT = TypeVar("OptionT", bound=MptcpOption)


@dataclass(frozen=True, slots=True)
class KernelView:
    """What ``ss -M`` shows of one endpoint's MPTCP socket (its local token, 64-bit data sequence)."""

    subflows: int
    token: int
    write_seq: int
    rcv_nxt: int


@dataclass(frozen=True, slots=True)
class KernelRun:
    segments: tuple[Segment, ...]
    client: KernelView
    server: KernelView


_SS_FIELD = re.compile(r"\b(subflows|token|write_seq|rcv_nxt):([0-9a-f]+)")


def mptcp_view(ns: Netns) -> KernelView:
    """The one established MPTCP socket of ``ns`` as ``ss -Mni`` prints it (zero counters are left out)."""
    output = ns.run("ss", "-Mni").stdout
    assert output.count("ESTAB") == 1, f"expected one MPTCP socket in {ns.name}, ss shows:\n{output}"
    fields = dict(_SS_FIELD.findall(output))
    return KernelView(
        subflows=int(fields.get("subflows", "0")),
        token=int(fields["token"], 16),
        write_seq=int(fields["write_seq"], 16),
        rcv_nxt=int(fields["rcv_nxt"], 16),
    )


def wait_for_subflows(ns: Netns, count: int, timeout: float = 5.0) -> KernelView:
    deadline = time.monotonic() + timeout
    while (view := mptcp_view(ns)).subflows < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert view.subflows == count, f"{ns.name}: {view.subflows} extra subflows, expected {count}"
    return view


# The server keeps its listening socket open: Linux looks up the listener for each MP_JOIN SYN.
SERVER = """
import json, socket, sys
from mptcpspec.conformance.stacks.apps import IPPROTO_MPTCP, stream
port, up, down = map(int, sys.argv[1:])
with socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP) as listener:
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(4)
    print(json.dumps({"event": "listening"}), flush=True)
    conn, _ = listener.accept()
    with conn:
        received = b"".join(iter(lambda: conn.recv(65536), b""))
        conn.sendall(stream(8685, down))
print(json.dumps({"event": "done", "ok": received == stream(8684, up)}), flush=True)
"""
PORT, SIGNAL_PORT = 8080, 8081


def configure(bed: linux.Testbed) -> None:
    """Checksums on; the server announces path 2 (no port) and path 3 with a port; the client joins
    both and also opens a subflow from its path 2 address (RFC 8684 §3.4.1, §3.2)."""
    _, second, third = bed.paths
    for path in bed.paths:  # MTU-sized segments, so a small snaplen keeps every payload byte
        bed.client.offloads(path.client_if, on=False)
        bed.server.offloads(path.server_if, on=False)
    for ns in (bed.client, bed.server):
        ns.sysctl("net.mptcp.checksum_enabled", 1)
        ns.mptcp_limits(subflows=3, add_addr_accepted=2)
    bed.server.mptcp_endpoint(second.server_addr(), second.server_if, 1, "signal")
    bed.server.mptcp_endpoint(third.server_addr(), third.server_if, 2, "signal", "port", str(SIGNAL_PORT))
    bed.client.mptcp_endpoint(second.client_addr(), second.client_if, 1, "subflow")


@pytest.fixture(scope="module")
def kernel_run(tmp_path_factory: pytest.TempPathFactory) -> KernelRun:
    pcap = tmp_path_factory.mktemp("kernel") / "crypto.pcap"
    with linux.Testbed(paths=3) as bed:
        configure(bed)
        server_args = bed.server.exec_args(sys.executable, "-c", SERVER, str(PORT), str(UP), str(DOWN))
        client_args = ["--connect", bed.paths[0].server_addr(), "--port", str(PORT), "--pause-at", "0"]
        # A snaplen near the MTU: tcpdump's ring holds few slots of a large snaplen and drops packets.
        capture = Tcpdump(bed.server, "any", pcap, snaplen=2048)
        with capturing([capture]), linux.Program(server_args) as server:
            server.wait_event("listening")
            with bed.app("client", [*client_args, "--up", str(UP), "--down", str(DOWN)]) as client:
                client.wait_event("paused")
                client_view = wait_for_subflows(bed.client, 3)
                server_view = wait_for_subflows(bed.server, 3)
                client.send_line()
                client.finish()
                server.finish()
        assert server.events[-1] == {"event": "done", "ok": True}, server.events
    assert re.search(r"\b0 packets dropped by kernel", capture.stats), (
        f"tcpdump lost packets: {capture.stats}"
    )
    return KernelRun(tuple(open_capture(pcap).segments(mptcp_only=True)), client_view, server_view)


def carrying(segments: tuple[Segment, ...], kind: type[OptionT]) -> Iterator[tuple[Segment, OptionT]]:
    """Every (segment, option) pair where the segment carries an option of type ``kind``."""
    for segment in segments:
        for option in segment.mptcp:
            if isinstance(option, kind):
                yield segment, option


@dataclass(frozen=True, slots=True)
class Keys:
    client: int
    server: int


def mp_capable_keys(run: KernelRun) -> Keys:
    """The keys of the MP_CAPABLE third ACK, which echoes both (RFC 8684 §3.1)."""
    third_acks = [o for s, o in carrying(run.segments, MpCapable) if o.receiver_key is not None]
    assert third_acks, "no MP_CAPABLE third ACK in the capture"
    mpc = third_acks[0]
    assert mpc.version == 1 and mpc.hmac_sha and mpc.checksum_required, mpc
    assert mpc.sender_key is not None and mpc.receiver_key is not None
    return Keys(client=mpc.sender_key, server=mpc.receiver_key)


def test_tokens_are_the_kernels(kernel_run: KernelRun) -> None:
    keys = mp_capable_keys(kernel_run)
    assert key_token(keys.client) == kernel_run.client.token
    assert key_token(keys.server) == kernel_run.server.token


def test_idsns_are_the_kernels(kernel_run: KernelRun) -> None:
    """Before any data, each side's next DSN to send and to receive is the IDSN plus one (§3.1, §3.3)."""
    keys = mp_capable_keys(kernel_run)
    client_first, server_first = (seq_add(key_idsn(k), 1, bits=64) for k in (keys.client, keys.server))
    assert (kernel_run.client.write_seq, kernel_run.server.rcv_nxt) == (client_first, client_first)
    assert (kernel_run.server.write_seq, kernel_run.client.rcv_nxt) == (server_first, server_first)


def test_join_syns_carry_the_listeners_token(kernel_run: KernelRun) -> None:
    tokens = [o.token for _, o in carrying(kernel_run.segments, MpJoinSyn)]
    assert len(tokens) >= 3, f"expected three MP_JOIN SYNs (two ADD_ADDRs, one endpoint), saw {len(tokens)}"
    assert set(tokens) == {key_token(mp_capable_keys(kernel_run).server)}


def reply_flow(flow: Flow) -> Flow:
    src, sport, dst, dport = flow
    return (dst, dport, src, sport)


def test_join_hmacs_verify(kernel_run: KernelRun) -> None:
    """The SYN/ACK's truncated HMAC is B's and the third ACK's HMAC is A's (RFC 8684 §3.2)."""
    keys = mp_capable_keys(kernel_run)
    synacks = {s.flow: o for s, o in carrying(kernel_run.segments, MpJoinSynAck)}
    acks = {s.flow: o for s, o in carrying(kernel_run.segments, MpJoinAck)}
    joins = list(carrying(kernel_run.segments, MpJoinSyn))
    assert joins
    for syn, join in joins:
        synack, ack = synacks[reply_flow(syn.flow)], acks[syn.flow]
        expected_b = join_synack_hmac(keys.server, keys.client, synack.nonce, join.nonce)
        assert synack.truncated_hmac == expected_b, f"SYN/ACK of {syn.flow}"
        assert ack.hmac == join_ack_hmac(keys.client, keys.server, join.nonce, synack.nonce), (
            f"ACK of {syn.flow}"
        )


def test_add_addr_hmac_verifies(kernel_run: KernelRun) -> None:
    """The server's announcement is authenticated with server key || client key (RFC 8684 §3.4.1)."""
    keys = mp_capable_keys(kernel_run)
    announced = [(s, o) for s, o in carrying(kernel_run.segments, AddAddr) if not o.echo]
    echoed = [o for _, o in carrying(kernel_run.segments, AddAddr) if o.echo]
    assert announced and echoed, f"ADD_ADDR {len(announced)} sent, {len(echoed)} echoed"
    for segment, add in announced:
        expected = add_addr_hmac(keys.server, keys.client, add.address_id, add.address, add.port)
        assert add.truncated_hmac == expected, f"frame {segment.frame}: {add}"
    assert {o.port for _, o in announced} == {None, SIGNAL_PORT}, "one announcement with a port, one without"
    assert {(o.address, o.port) for _, o in announced} == {(o.address, o.port) for o in echoed}


@dataclass(frozen=True, slots=True)
class Mapping:
    flow: Flow
    from_client: bool
    dsn: int
    ssn: int
    data_level_length: int
    data_fin: bool
    checksum: int

    @property
    def covered(self) -> int:
        """Subflow bytes the mapping covers: a DATA_FIN takes one octet of the length (§3.3.3)."""
        return self.data_level_length - (1 if self.data_fin else 0)


def subflow_streams(segments: tuple[Segment, ...]) -> dict[Flow, bytes]:
    """Each subflow direction's bytes from relative sequence number 1 on, rebuilt from the capture."""
    isn: dict[Flow, int] = {}
    chunks: dict[Flow, dict[int, bytes]] = {}
    for segment in segments:
        if segment.syn:
            isn[segment.flow] = segment.seq
        elif segment.payload_len:
            assert segment.payload_complete, f"frame {segment.frame}: payload cut by the capture"
            start = seq_diff(segment.seq, isn[segment.flow])
            chunks.setdefault(segment.flow, {})[start] = segment.payload[: segment.payload_len]
    streams = {}
    for flow, parts in chunks.items():
        data = bytearray()
        for start, payload in sorted(parts.items()):
            assert start - 1 <= len(data), (
                f"{flow}: bytes {len(data) + 1}..{start - 1} missing from the capture"
            )
            data[start - 1 : start - 1 + len(payload)] = payload
        streams[flow] = bytes(data)
    return streams


def checksummed_mappings(run: KernelRun, keys: Keys) -> set[Mapping]:
    """Distinct DSS mappings with a checksum, DSNs widened to 64 bits near the sender's IDSN."""
    client_hosts = {s.src for s in run.segments if s.syn and not s.has_ack}
    mappings = set()
    for segment, dss in carrying(run.segments, Dss):
        if dss.dsn is None or dss.ssn is None or dss.data_level_length is None:
            continue
        assert dss.checksum is not None, f"frame {segment.frame}: mapping without the negotiated checksum"
        from_client = segment.src in client_hosts
        idsn = key_idsn(keys.client if from_client else keys.server)
        dsn = dss.dsn if dss.dsn_wide else infer_dsn64(dss.dsn, idsn)
        mappings.add(
            Mapping(
                segment.flow, from_client, dsn, dss.ssn, dss.data_level_length, dss.data_fin, dss.checksum
            )
        )
    return mappings


def test_every_dss_checksum_verifies(kernel_run: KernelRun) -> None:
    keys = mp_capable_keys(kernel_run)
    streams = subflow_streams(kernel_run.segments)
    mappings = checksummed_mappings(kernel_run, keys)
    for m in mappings:
        payload = streams[m.flow][m.ssn - 1 : m.ssn - 1 + m.covered] if m.covered else b""
        assert len(payload) == m.covered, f"{m}: only {len(payload)} bytes captured"
        assert dss_checksum_ok(m.dsn, m.ssn, m.data_level_length, payload, m.checksum), m
    data = [m for m in mappings if m.covered]
    assert len({m.flow for m in data}) >= 3, f"data on only {sorted({m.flow for m in data})}"
    for from_client, key in ((True, keys.client), (False, keys.server)):
        first_dsn = min(m.dsn for m in data if m.from_client == from_client)
        assert first_dsn == seq_add(key_idsn(key), 1, bits=64), "the first data byte is IDSN + 1 (§3.3)"

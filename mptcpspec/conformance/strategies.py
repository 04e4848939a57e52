"""Public Hypothesis strategies for MPTCP options, segments and conversations.

Option strategies (RFC 8684 §3): one per subtype and form, each generating only values that
``mptcpspec.spec.options.serialize`` can encode, with every flag combination, reserved bit and optional
field reachable; ``mptcp_options()`` draws from all of them.  ``option_bytes()`` draws well-formed wire
bytes directly (random field contents at a length the subtype and its flags allow), built without the
project's codec, so that it can check the codec.

Example, a round-trip property over every option::

    from hypothesis import given
    from mptcpspec.conformance.strategies import mptcp_options
    from mptcpspec.spec.options import parse, serialize

    @given(mptcp_options())
    def test_round_trip(option):
        assert parse(serialize(option)) == option

and a DSS that always carries a mapping: ``dss().filter(lambda o: o.has_mapping)``.

Conversation strategies: ``conversations()`` draws whole legal MPTCP connections built with
``mptcpspec.conformance.conversation.Conversation``, ``segments()`` single segments out of them; the
docstring of ``conversations()`` has a worked example of property-testing your own MPTCP code.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

from mptcpspec.conformance.conversation import Conversation, Side
from mptcpspec.spec.options import (
    MPTCP_KIND,
    AddAddr,
    AddAddrV0,
    Dss,
    MpCapable,
    MpExperimental,
    MpFail,
    MpFastclose,
    MpJoinAck,
    MpJoinSyn,
    MpJoinSynAck,
    MpPrio,
    MptcpOption,
    MpTcpRst,
    RemoveAddr,
    Subtype,
    TcpRstReason,
    UnknownSubtype,
)
from mptcpspec.spec.segment import Segment

__all__ = [
    "add_addr",
    "add_addr_v0",
    "conversations",
    "dss",
    "mp_capable",
    "mp_experimental",
    "mp_fail",
    "mp_fastclose",
    "mp_join_ack",
    "mp_join_syn",
    "mp_join_synack",
    "mp_prio",
    "mp_tcprst",
    "mptcp_options",
    "option_bytes",
    "remove_addr",
    "segments",
    "unknown_subtype",
    "well_formed_option",
]

_MAX_BODY = 252  # a one-byte length minus the 3-byte header


def _uint(bits: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=(1 << bits) - 1)


def _address(ip_version: int) -> st.SearchStrategy[str]:
    """Addresses in the canonical text form that parsing gives back."""
    return st.ip_addresses(v=ip_version).map(str)  # type: ignore[arg-type]


@st.composite
def mp_capable(draw: st.DrawFn, version: int | None = None) -> MpCapable:
    """MP_CAPABLE (RFC 8684 §3.1): v1 with 0 to 4 trailing fields (lengths 4 to 24), v0 with 1 or 2 keys."""
    version = draw(st.sampled_from((0, 1))) if version is None else version
    count = draw(st.integers(1, 2) if version == 0 else st.integers(0, 4))
    values = [draw(_uint(bits)) for bits in (64, 64, 16, 16)[:count]]
    return MpCapable(version, draw(_uint(8)), *values)


def mp_join_syn() -> st.SearchStrategy[MpJoinSyn]:
    """MP_JOIN on a SYN (RFC 8684 §3.2): any flags nibble (B and reserved), address ID, token, nonce."""
    return st.builds(MpJoinSyn, _uint(4), _uint(8), _uint(32), _uint(32))


def mp_join_synack() -> st.SearchStrategy[MpJoinSynAck]:
    """MP_JOIN on a SYN/ACK (RFC 8684 §3.2): flags, address ID, 64-bit truncated HMAC, nonce."""
    return st.builds(MpJoinSynAck, _uint(4), _uint(8), _uint(64), _uint(32))


def mp_join_ack() -> st.SearchStrategy[MpJoinAck]:
    """MP_JOIN on the third ACK (RFC 8684 §3.2): a 20-byte HMAC and 12 reserved bits."""
    return st.builds(MpJoinAck, st.binary(min_size=20, max_size=20), _uint(12))


@st.composite
def dss(draw: st.DrawFn) -> Dss:
    """DSS (RFC 8684 §3.3): data ACK and mapping each present or not, 4- or 8-byte, checksum or not,
    DATA_FIN, infinite mappings (data-level length 0) and reserved bits all reachable."""
    ack_wide, dsn_wide = draw(st.booleans()), draw(st.booleans())
    data_ack = draw(st.none() | _uint(64 if ack_wide else 32))
    fin, reserved = draw(st.booleans()), draw(_uint(7))
    if not draw(st.booleans()):
        return Dss(data_ack, ack_wide, None, dsn_wide, data_fin=fin, reserved=reserved)
    dsn = draw(_uint(64 if dsn_wide else 32))
    length = draw(st.just(0) | _uint(16))
    return Dss(
        data_ack, ack_wide, dsn, dsn_wide, draw(_uint(32)), length, draw(st.none() | _uint(16)), fin, reserved
    )


@st.composite
def add_addr(draw: st.DrawFn) -> AddAddr:
    """ADD_ADDR v1 (RFC 8684 §3.4.1): IPv4 or IPv6, port or not, echo (no HMAC) or HMAC, reserved bits."""
    echo = draw(st.booleans())
    address = draw(_address(4) | _address(6))
    hmac = None if echo else draw(_uint(64))
    return AddAddr(echo, draw(_uint(8)), address, draw(st.none() | _uint(16)), hmac, draw(_uint(3)))


@st.composite
def add_addr_v0(draw: st.DrawFn) -> AddAddrV0:
    """ADD_ADDR v0 (RFC 6824 §3.4.1): IPVer 4 or 6 with a matching address, port or not."""
    ip_version = draw(st.sampled_from((4, 6)))
    return AddAddrV0(ip_version, draw(_uint(8)), draw(_address(ip_version)), draw(st.none() | _uint(16)))


def remove_addr() -> st.SearchStrategy[RemoveAddr]:
    """REMOVE_ADDR (RFC 8684 §3.4.2): 1 to 252 address IDs and the reserved nibble."""
    return st.builds(RemoveAddr, st.lists(_uint(8), min_size=1, max_size=_MAX_BODY).map(tuple), _uint(4))


def mp_prio() -> st.SearchStrategy[MpPrio]:
    """MP_PRIO: v1 without address ID (RFC 8684 §3.3.8) or v0 with one (RFC 6824 §3.3.8)."""
    return st.builds(MpPrio, _uint(4), st.none() | _uint(8))


def mp_fail() -> st.SearchStrategy[MpFail]:
    """MP_FAIL (RFC 8684 §3.7): 64-bit DSN and 12 reserved bits."""
    return st.builds(MpFail, _uint(64), _uint(12))


def mp_fastclose() -> st.SearchStrategy[MpFastclose]:
    """MP_FASTCLOSE (RFC 8684 §3.5): the receiver's 64-bit key and 12 reserved bits."""
    return st.builds(MpFastclose, _uint(64), _uint(12))


def mp_tcprst() -> st.SearchStrategy[MpTcpRst]:
    """MP_TCPRST (RFC 8684 §3.6): U V W T flags and any reason byte (assigned codes or not)."""
    return st.builds(MpTcpRst, _uint(4), _uint(8))


def mp_experimental() -> st.SearchStrategy[MpExperimental]:
    """MP_EXPERIMENTAL (subtype 0xF, RFC 8684 §8.1): low nibble and opaque data."""
    return st.builds(MpExperimental, _uint(4), st.binary(max_size=_MAX_BODY))


def unknown_subtype() -> st.SearchStrategy[UnknownSubtype]:
    """An unassigned subtype (9 to 14) with opaque data, which receivers ignore (RFC 8684 §3)."""
    return st.builds(UnknownSubtype, st.integers(9, 14), _uint(4), st.binary(max_size=_MAX_BODY))


def mptcp_options() -> st.SearchStrategy[MptcpOption]:
    """Any encodable MPTCP option value, of every subtype and form."""
    return st.one_of(
        dss(),
        mp_capable(),
        mp_join_syn(),
        mp_join_synack(),
        mp_join_ack(),
        add_addr(),
        add_addr_v0(),
        remove_addr(),
        mp_prio(),
        mp_fail(),
        mp_fastclose(),
        mp_tcprst(),
        mp_experimental(),
        unknown_subtype(),
    )


def _dss_length(flags: int, checksum: bool) -> int:
    """The DSS length the flags call for, RFC 8684 §3.3: 4, plus the data ACK, plus the mapping."""
    length = 4
    if flags & 0x01:
        length += 8 if flags & 0x02 else 4
    if flags & 0x04:
        length += (8 if flags & 0x08 else 4) + 4 + 2 + (2 if checksum else 0)
    return length


def _header_and_length(subtype: int, randint: Callable[[int, int], int]) -> tuple[int, int]:
    """A low nibble and an option length that the layout of ``subtype`` allows (RFC 8684 §3)."""

    def pick(*lengths: int) -> int:
        return lengths[randint(0, len(lengths) - 1)]

    low = randint(0, 15)
    match subtype:
        case Subtype.MP_CAPABLE:
            low = randint(0, 1)
            return low, pick(12, 20) if low == 0 else pick(4, 12, 20, 22, 24)
        case Subtype.MP_JOIN:
            return low, pick(12, 16, 24)
        case Subtype.ADD_ADDR if randint(0, 1):  # v0: the IPVer nibble fixes the address size
            low = pick(4, 6)
            return low, pick(8, 10) if low == 4 else pick(20, 22)
        case Subtype.ADD_ADDR:  # v1: 8 more bytes of HMAC unless E
            return low, pick(8, 10, 20, 22) + (0 if low & 1 else 8)
        case Subtype.REMOVE_ADDR:
            return low, randint(4, 3 + _MAX_BODY)
        case Subtype.MP_PRIO:
            return low, pick(3, 4)
        case Subtype.MP_FAIL | Subtype.MP_FASTCLOSE:
            return low, 12
        case Subtype.MP_TCPRST:
            return low, 4
    return low, randint(3, 3 + _MAX_BODY)


def well_formed_option(randint: Callable[[int, int], int], randbytes: Callable[[int], bytes]) -> bytes:
    """Wire bytes of one well-formed MPTCP option of any subtype (0 to 15), random field contents.

    ``randint(a, b)`` and ``randbytes(n)`` supply the randomness (``random.Random`` methods, or draws
    from Hypothesis as in ``option_bytes``).  The lengths come from RFC 8684 §3 directly, not from the
    codec.  ADD_ADDR comes in v0 or v1 form; with ``version=None`` ``parse`` tells them apart.
    """
    subtype = randint(0, 15)
    if subtype == Subtype.DSS:
        flags = randint(0, 255)
        length = _dss_length(flags, bool(randint(0, 1)))
        return bytes((MPTCP_KIND, length, subtype << 4 | randint(0, 15), flags)) + randbytes(length - 4)
    low, length = _header_and_length(subtype, randint)
    return bytes((MPTCP_KIND, length, subtype << 4 | low)) + randbytes(length - 3)


@st.composite
def option_bytes(draw: st.DrawFn) -> bytes:
    """Hypothesis strategy of ``well_formed_option`` bytes: ``parse`` accepts each, ``serialize`` gives
    each back unchanged."""
    return well_formed_option(
        lambda a, b: draw(st.integers(a, b)), lambda n: draw(st.binary(min_size=n, max_size=n))
    )


# -- legal conversations and their segments (built with mptcpspec.conformance.conversation) ---------------

_ENDINGS = ("close", "close-from-b", "fastclose", "reset-then-close", "open")


@st.composite
def _burst(draw: st.DrawFn, conv: Conversation, sparse_mappings: bool) -> None:
    """New data one way on an open subflow; lost segments come back by TCP retransmission, some after a
    reinjection of their data on another subflow (RFC 8684 §3.3.6)."""
    side: Side = draw(st.sampled_from(("A", "B")))
    subflow = draw(st.sampled_from(conv.open_subflows()))
    size = draw(st.integers(1, 6000))
    count = -(-size // conv.segment_size)
    lose = draw(st.sets(st.integers(0, count - 1), max_size=2))
    repeat = not sparse_mappings or draw(st.booleans())
    frames = conv.send(side, size, subflow=subflow, span=draw(st.booleans()), repeat_dss=repeat, lose=lose)
    others = [i for i in conv.open_subflows() if i != subflow]
    for index in sorted(lose):
        mapped = conv.data_range(frames[index])
        if others and mapped and draw(st.booleans()):
            conv.reinject(side, *mapped, subflow=draw(st.sampled_from(others)))
        conv.retransmit(frames[index])


def _end(conv: Conversation, how: str) -> None:
    """Finish ``conv`` as ``how`` (one of ``_ENDINGS``) says."""
    if how == "fastclose" and conv.mptcp:
        conv.fastclose("A")
        return
    if how == "reset-then-close" and conv.mptcp:
        for index in conv.open_subflows()[1:]:
            conv.tcp_rst("B", subflow=index, reason=TcpRstReason.ADMINISTRATIVELY_PROHIBITED)
    if how != "open":
        conv.close("B" if how == "close-from-b" else "A")


@st.composite
def conversations(
    draw: st.DrawFn,
    *,
    version: int | None = None,
    max_subflows: int = 3,
    max_bursts: int = 4,
    fallback: bool | None = None,
    sparse_mappings: bool = True,
) -> Conversation:
    """A random legal MPTCP connection between A (client) and B (server), as a ``Conversation``.

    Drawn: the seed (keys, nonces, ISNs), the version (unless given), DSS checksums, IPv4 or IPv6, 32- or
    64-bit DSNs, data on the third ACK (v1), up to ``max_subflows`` subflows opened by either side (some
    backup), up to ``max_bursts`` bursts of data either way on any subflow with one mapping per segment
    or one spanning several (carried on every segment, or with ``sparse_mappings`` sometimes only on the
    first, RFC 8684 §3.3.1), lost segments repaired by retransmission or reinjection, ADD_ADDR and
    MP_PRIO signals, and the ending: a DATA_FIN close from either side (§3.3.3), a fast close (§3.5),
    resets of the extra subflows (§3.6) then a close, or none.  ``fallback`` True (or, when None, one
    time in five) makes B answer without MP_CAPABLE: plain TCP (§3.7).

    Worked example, property-testing your own MPTCP code against the specification::

        from hypothesis import given
        from mptcpspec.conformance.replay import validate_segments
        from mptcpspec.conformance.strategies import conversations

        @given(conversations())
        def test_my_receiver(conv):
            mine = MyReceiver()                        # your implementation, in B's seat
            for seg in conv.segments:
                if conv.side_of(seg.frame) == "A":
                    mine.receive(seg.tcp_options, seg.payload)
            assert mine.delivered() == conv.application_data("A")

        @given(conversations().map(lambda conv: conv.with_option(3, my_mutation(conv.segment(3)))))
        def test_my_checker_agrees_with_mptcpspec(conv):
            expected = validate_segments(conv.segments, complete=True).violations
            assert my_checker(conv.segments) == expected

    ``conv.write(path)`` turns any example Hypothesis reports into a pcap for Wireshark.
    """
    version = draw(st.sampled_from((0, 1))) if version is None else version
    conv = Conversation(
        seed=draw(st.integers(0, 2**32 - 1)),
        version=version,
        checksum=draw(st.booleans()),
        ipv6=draw(st.booleans()),
        dsn64=draw(st.booleans()),
    )
    plain = draw(st.integers(0, 4)) == 0 if fallback is None else fallback
    conv.connect(fallback=plain, data=draw(st.integers(0, 1500)) if version == 1 else 0)
    conv.send("B", draw(st.integers(1, 3000)))  # B's DSS confirms the keys before any join (§3.1)
    for _ in range(draw(st.integers(0, max_subflows - 1)) if conv.mptcp else 0):
        conv.join(draw(st.sampled_from(("A", "B"))), backup=draw(st.booleans()))
    for _ in range(draw(st.integers(0, max_bursts))):
        draw(_burst(conv, sparse_mappings))
        if conv.mptcp and draw(st.integers(0, 5)) == 0:
            conv.add_addr("B", draw(st.integers(10, 200)), conv.address("B", 7))
        if conv.mptcp and conv.subflow_count > 1 and draw(st.integers(0, 5)) == 0:
            conv.mp_prio("A", backup=draw(st.booleans()), subflow=conv.open_subflows()[-1])
    _end(conv, draw(st.sampled_from(_ENDINGS)))
    return conv


def segments(conversation: st.SearchStrategy[Conversation] | None = None) -> st.SearchStrategy[Segment]:
    """One segment out of a random legal conversation (from ``conversation``, by default
    ``conversations()``): real wire bytes, parsed MPTCP options, consistent sequence numbers."""
    source = conversations() if conversation is None else conversation
    return source.flatmap(lambda conv: st.sampled_from(conv.segments))

"""MPTCP option wire formats: round trips, real option bytes, RFC corner cases, every error."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings

from mptcpspec.conformance.strategies import mptcp_options, option_bytes
from mptcpspec.spec.errors import BadLength, OptionError, TruncatedOption, UnknownVersion
from mptcpspec.spec.options import (
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
    UnknownSubtype,
    describe,
    option_to_dict,
    parse,
    scan_tcp_options,
    serialize,
    subtype_of,
)

MAX64 = (1 << 64) - 1
ROUND_TRIPS = settings(max_examples=500)  # 14 subtypes and forms share the examples


@ROUND_TRIPS
@given(mptcp_options())
@example(Dss(data_ack=5))  # only a DATA_ACK
@example(Dss(dsn=7, ssn=0, data_level_length=0, data_fin=True))  # DATA_FIN on an infinite mapping
@example(Dss(MAX64, True, MAX64, True, 0xFFFFFFFF, 0xFFFF))  # 8-byte DSN and data ACK
@example(Dss(1, False, 2, False, 3, 4, checksum=0))  # checksum present, value 0
@example(Dss(data_ack_wide=True, dsn_wide=True, reserved=0x7F))  # a and m kept without their fields
@example(AddAddr(False, 2, "2001:db8::1", 8080, MAX64))  # IPv6, port and HMAC: length 30
@example(AddAddrV0(6, 3, "2001:db8::2", 443))
@example(AddAddrV0(4, 1, "10.1.2.2"))
@example(MpPrio(1, 4))  # v0 MP_PRIO with address ID
@example(MpCapable(1, 0xFF, MAX64, MAX64, 0xFFFF, 0xFFFF))  # length 24
def test_parse_inverts_serialize(option: MptcpOption) -> None:
    assert parse(serialize(option)) == option


@ROUND_TRIPS
@given(option_bytes())
@example(bytes.fromhex("1e1a201fa28e87fddd1d50f2c8072fb90edad86a000000000001"))  # DATA_FIN, 8-byte fields
@example(bytes.fromhex("1e0834010a010202"))  # v0 ADD_ADDR, IPVer 4
@example(bytes.fromhex("1e1631ff20010db8000000000000000000000001ffff"))  # v1 echo, IPv6 and port
def test_serialize_inverts_parse(data: bytes) -> None:
    assert serialize(parse(data)) == data


# Real option bytes from the tcpdump project's MPTCP test captures (Linux v0 and v1), with the field
# values Wireshark's dissector gives for them.
REAL_OPTIONS = [
    ("1e040101", MpCapable(1, 0x01)),
    ("1e0c010129a6c86981ad933c", MpCapable(1, 0x01, 0x29A6C86981AD933C)),
    ("1e1401011fdb5df328bc3def29a6c86981ad933c", MpCapable(1, 0x01, 0x1FDB5DF328BC3DEF, 0x29A6C86981AD933C)),
    (
        "1e1601011fdb5df328bc3def29a6c86981ad933c2000",
        MpCapable(1, 0x01, 0x1FDB5DF328BC3DEF, 0x29A6C86981AD933C, 0x2000),
    ),
    ("1e0c00819c9eabd1e46a33b2", MpCapable(0, 0x81, 0x9C9EABD1E46A33B2)),
    ("1e0c1000e47f01421b665a18", MpJoinSyn(0, 0, 3833528642, 459692568)),
    ("1e1010015ab680c7884af03d33abe9d5", MpJoinSynAck(0, 1, 6536553503648313405, 866904533)),
    (
        "1e181000cb7b87f5e5f0502f43b535fb70ef6607df2e6c7a",
        MpJoinAck(bytes.fromhex("cb7b87f5e5f0502f43b535fb70ef6607df2e6c7a")),
    ),
    ("1e082001d1b974b9", Dss(data_ack=0xD1B974B9)),
    ("1e0c2003ee83a616c38765c5", Dss(data_ack=0xEE83A616C38765C5, data_ack_wide=True)),
    (
        "1e1a200fc8072fb90edab04ea28e87fddd1d30f2000000012000",
        Dss(0xC8072FB90EDAB04E, True, 0xA28E87FDDD1D30F2, True, 1, 0x2000),
    ),
    (
        "1e1a201fa28e87fddd1d50f2c8072fb90edad86a000000000001",
        Dss(0xA28E87FDDD1D50F2, True, 0xC8072FB90EDAD86A, True, 0, 1, data_fin=True),
    ),
    ("1e142005c9dc1c61b1712fb60000000100019e91", Dss(0xC9DC1C61, False, 0xB1712FB6, False, 1, 1, 0x9E91)),
    ("1e103001c0a888e1669928744366716c", AddAddr(False, 1, "192.168.136.225", None, 0x669928744366716C)),
    ("1e0831010a000201", AddAddr(True, 1, "10.0.2.1")),
    ("1e0834010a010202", AddAddrV0(4, 1, "10.1.2.2")),
    ("1e044000", RemoveAddr((0,))),
    ("1e0c7000d005b1ab34bad344", MpFastclose(0xD005B1AB34BAD344)),
    ("1e048000", MpTcpRst(0, 0)),
]


@pytest.mark.parametrize(("hex_bytes", "expected"), REAL_OPTIONS)
def test_real_option_bytes(hex_bytes: str, expected: MptcpOption) -> None:
    data = bytes.fromhex(hex_bytes)
    assert parse(data) == expected
    assert serialize(expected) == data


# Hand-built layouts, checked field by field.
def test_mp_join_ack_keeps_reserved_bits() -> None:
    option = parse(bytes.fromhex("1e181abc") + bytes(range(20)))
    assert option == MpJoinAck(bytes(range(20)), reserved=0xABC)


def test_dss_reserved_bits_come_from_both_bytes() -> None:
    option = parse(bytes.fromhex("1e042fe0"))  # low nibble 0xf, flag byte 111 00000
    assert option == Dss(reserved=0x7F)


def test_mp_prio_v1_and_v0() -> None:
    assert parse(bytes.fromhex("1e0351")) == MpPrio(1)
    assert parse(bytes.fromhex("1e045e07")) == MpPrio(0xE, 7)


def test_mp_fail_and_fastclose_reserved_and_64_bit_field() -> None:
    assert parse(bytes.fromhex("1e0c6123ffffffffffffffff")) == MpFail(MAX64, 0x123)
    assert parse(bytes.fromhex("1e0c700000000000000000ff")) == MpFastclose(0xFF)


def test_mp_tcprst_flags_and_reason() -> None:
    option = parse(bytes.fromhex("1e048906"))
    assert option == MpTcpRst(0x9, 6)
    assert isinstance(option, MpTcpRst) and option.transient


def test_add_addr_v6_port_hmac_layout() -> None:
    data = (
        bytes.fromhex("1e1e3005") + bytes.fromhex("20010db8000000000000000000000001") + b"\x1f\x90" + bytes(8)
    )
    assert parse(data) == AddAddr(False, 5, "2001:db8::1", 8080, 0)


def test_add_addr_version_hint() -> None:
    v0_bytes = bytes.fromhex("1e0834010a010202")
    assert parse(v0_bytes, version=0) == AddAddrV0(4, 1, "10.1.2.2")
    with pytest.raises(BadLength, match=r"ADD_ADDR length 8 is not 16, 18, 28 or 30 \(E=0\)"):
        parse(v0_bytes, version=1)
    echo = bytes.fromhex("1e0831010a000201")
    with pytest.raises(BadLength, match="does not fit a v0 IPv1 address"):
        parse(echo, version=0)
    with pytest.raises(ValueError, match="version=2"):
        parse(echo, version=2)


@pytest.mark.parametrize("subtype", range(9, 15))
def test_unassigned_subtypes_are_kept_not_errors(subtype: int) -> None:
    data = bytes((30, 5, subtype << 4 | 3, 0xAA, 0xBB))
    option = parse(data)
    assert option == UnknownSubtype(subtype, 3, b"\xaa\xbb")
    assert subtype_of(option) == subtype


def test_mp_experimental_is_opaque() -> None:
    assert parse(bytes.fromhex("1e03f7")) == MpExperimental(7, b"")


# Every error class, with its message and attributes.
@pytest.mark.parametrize(
    ("hex_bytes", "error", "message", "subtype", "length"),
    [
        ("1e", TruncatedOption, "1 byte(s) has no length byte", None, None),
        ("1e0220", TruncatedOption, "length 2 is below the 3-byte header", 2, 2),
        ("1e0c0001", TruncatedOption, "announces 12 bytes but only 4 are there", 0, 12),
        ("1e0320", BadLength, "DSS length 3 leaves no room for the flag byte", 2, 3),
        (
            "1e09200100000000ff",
            BadLength,
            "DSS length 9 does not fit flags A=1 a=0 M=0 m=0 (expected 8)",
            2,
            9,
        ),
        (
            "1e0a2004" + "00" * 6,
            BadLength,
            "DSS length 10 does not fit flags A=0 a=0 M=1 m=0 (expected 14 or 16)",
            2,
            10,
        ),
        ("1e04000100", BadLength, "length byte says 4 but 5 bytes were given", 0, 4),
        ("1e040001", BadLength, "MP_CAPABLE length 4 is not one of 12, 20 (version 0)", 0, 4),
        ("1e0d0101" + "00" * 9, BadLength, "MP_CAPABLE length 13 is not one of 4, 12, 20, 22, 24", 0, 13),
        (
            "1e0d1000" + "00" * 9,
            BadLength,
            "MP_JOIN length 13 is not 12 (SYN), 16 (SYN/ACK) or 24 (ACK)",
            1,
            13,
        ),
        ("1e103101" + "00" * 12, BadLength, "ADD_ADDR length 16 is not 8, 10, 20 or 22 (E=1)", 3, 16),
        ("1e1434010a000201" + "00" * 12, BadLength, "does not fit a v0 IPv4 address", 3, 20),
        ("1e0340", BadLength, "REMOVE_ADDR length 3 leaves no room for an address ID", 4, 3),
        ("1e05500000", BadLength, "MP_PRIO length 5 is not 3 (v1) or 4 (v0, with address ID)", 5, 5),
        ("1e0b6000" + "00" * 7, BadLength, "MP_FAIL length 11 is not 12", 6, 11),
        ("1e0d7000" + "00" * 9, BadLength, "MP_FASTCLOSE length 13 is not 12", 7, 13),
        ("1e05800000", BadLength, "MP_TCPRST length 5 is not 4", 8, 5),
        ("1e0c0281" + "00" * 8, UnknownVersion, "MP_CAPABLE version 2 is neither 0 nor 1", 0, 12),
        ("1f04200100", OptionError, "option kind 31 is not MPTCP (30)", None, 4),
    ],
)
def test_malformed_options_raise_their_error(
    hex_bytes: str, error: type[OptionError], message: str, subtype: int | None, length: int | None
) -> None:
    with pytest.raises(error) as raised:
        parse(bytes.fromhex(hex_bytes))
    assert message in raised.value.message
    assert (raised.value.subtype, raised.value.length) == (subtype, length)


def test_errors_cite_their_section() -> None:
    cases = {"1e0340": "3.4.2", "1e0b6000" + "00" * 7: "3.7", "1e0c0281" + "00" * 8: "3.1", "1e0320": "3.3"}
    for hex_bytes, section in cases.items():
        with pytest.raises(OptionError) as raised:
            parse(bytes.fromhex(hex_bytes))
        assert raised.value.section == section


# serialize refuses what the layout cannot carry, naming the field.
@pytest.mark.parametrize(
    ("option", "field"),
    [
        (Dss(data_ack=1 << 32), "Dss.data_ack=4294967296 is not an unsigned 32-bit integer"),
        (Dss(dsn=1 << 32, dsn_wide=True, ssn=-1, data_level_length=0), "Dss.ssn=-1"),
        (Dss(dsn=1, ssn=1), "Dss.data_level_length=None"),
        (Dss(ssn=1), "need a mapping"),
        (Dss(checksum=1), "need a mapping"),
        (Dss(reserved=128), "Dss.reserved=128"),
        (MpCapable(2, 0, 1), "MpCapable.version=2"),
        (MpCapable(0, 0), "version=0 carries one or two keys, not 0 fields"),
        (MpCapable(1, 0, None, 5), "must be a prefix"),
        (MpCapable(1, 256), "MpCapable.flags=256"),
        (MpJoinSyn(16, 0, 0, 0), "MpJoinSyn.flags=16"),
        (MpJoinSynAck(0, 256, 0, 0), "MpJoinSynAck.address_id=256"),
        (MpJoinAck(bytes(19)), "MpJoinAck.hmac has 19 bytes"),
        (AddAddr(True, 1, "10.0.0.1", None, 5), "truncated_hmac must be present iff echo is false"),
        (AddAddr(False, 1, "10.0.0.1"), "truncated_hmac must be present iff echo is false"),
        (AddAddr(True, 1, "10.0.0.256"), "AddAddr.address='10.0.0.256'"),
        (AddAddr(True, 1, "10.0.0.1", 65536), "AddAddr.port=65536"),
        (AddAddrV0(6, 1, "10.0.0.1"), "AddAddrV0.ip_version=6 does not match"),
        (RemoveAddr(()), "RemoveAddr.address_ids is empty"),
        (RemoveAddr(tuple(range(253))), "REMOVE_ADDR option of 256 bytes"),
        (RemoveAddr((1, 300)), "RemoveAddr.address_ids[]=300"),
        (MpPrio(0, -1), "MpPrio.address_id=-1"),
        (MpFail(1 << 64), "MpFail.dsn"),
        (MpFastclose(1, 1 << 12), "MpFastclose.reserved=4096"),
        (MpTcpRst(0, 256), "MpTcpRst.reason=256"),
        (MpExperimental(0, bytes(253)), "MpExperimental.data has 253 bytes"),
        (UnknownSubtype(3, 0, b""), "UnknownSubtype.subtype=3"),
    ],
)
def test_serialize_rejects_unencodable_values(option: MptcpOption, field: str) -> None:
    with pytest.raises(ValueError) as raised:
        serialize(option)
    assert field in str(raised.value)


# scan_tcp_options over whole TCP options fields.
REAL_OPTIONS_FIELD = "0101080a1baf9ea1c337c5931e1601011fdb5df328bc3def29a6c86981ad933c20000101"


def test_scan_real_options_field() -> None:
    options, errors = scan_tcp_options(bytes.fromhex(REAL_OPTIONS_FIELD))
    assert errors == ()
    assert options == (MpCapable(1, 0x01, 0x1FDB5DF328BC3DEF, 0x29A6C86981AD933C, 0x2000),)


def test_scan_finds_every_mptcp_option_and_stops_at_eol() -> None:
    field = bytes.fromhex("1e0831010a000201" + "1e082001d1b974b9" + "00" + "1e048000")
    options, errors = scan_tcp_options(field)
    assert options == (AddAddr(True, 1, "10.0.2.1"), Dss(data_ack=0xD1B974B9))
    assert errors == ()


def test_scan_goes_on_past_a_malformed_mptcp_option() -> None:
    options, errors = scan_tcp_options(bytes.fromhex("1e0320" + "01" + "1e048000"))
    assert options == (MpTcpRst(0, 0),)
    assert len(errors) == 1 and isinstance(errors[0], BadLength) and errors[0].subtype == 2


@pytest.mark.parametrize(
    ("hex_field", "error", "message"),
    [
        ("010108", TruncatedOption, "TCP option kind 8 at offset 2 has no length byte"),
        ("0101080a0000", TruncatedOption, "kind 8 at offset 2 announces 10 bytes but only 4 are left"),
        ("0401" + "1e048000", BadLength, "kind 4 at offset 0 has length 1, below 2"),
        ("1e0c2001000000", TruncatedOption, "announces 12 bytes but only 7 are there"),
        ("1e01" + "1e048000", TruncatedOption, "length 1 is below the 3-byte header"),
    ],
)
def test_scan_stops_at_a_lying_length(hex_field: str, error: type[OptionError], message: str) -> None:
    options, errors = scan_tcp_options(bytes.fromhex(hex_field))
    assert options == ()
    assert len(errors) == 1 and type(errors[0]) is error and message in errors[0].message


def test_scan_passes_the_version_hint() -> None:
    field = bytes.fromhex("1e0834010a010202")
    assert scan_tcp_options(field)[0] == (AddAddrV0(4, 1, "10.1.2.2"),)
    assert isinstance(scan_tcp_options(field, version=1)[1][0], BadLength)


# Text and JSON forms.
@pytest.mark.parametrize(
    ("option", "text"),
    [
        (MpCapable(1, 0x81, 0x12, 0x34), "MP_CAPABLE v1 [A,H] skey=0x12 rkey=0x34"),
        (MpCapable(1, 0), "MP_CAPABLE v1"),
        (
            Dss(123, False, 456, False, 1, 1400, 0xABCD, True),
            "DSS ack=123 dsn=456 ssn=1 len=1400 csum=0xabcd F",
        ),
        (Dss(dsn=9, dsn_wide=True, ssn=0, data_level_length=0), "DSS dsn64=9 ssn=0 len=0 (infinite)"),
        (Dss(data_ack=1, data_ack_wide=True, reserved=3), "DSS ack64=1 rsv=0x3"),
        (MpJoinSyn(1, 1, 0xAB, 0xCD), "MP_JOIN SYN id=1 B token=0xab nonce=0xcd"),
        (MpJoinSynAck(4, 2, 0xAB, 0xCD), "MP_JOIN SYN/ACK id=2 hmac=0xab nonce=0xcd rsv=0x2"),
        (MpJoinAck(bytes(20)), "MP_JOIN ACK hmac=" + "00" * 20),
        (AddAddr(False, 2, "10.0.0.2", 8080, 0xFF), "ADD_ADDR id=2 10.0.0.2:8080 hmac=0xff"),
        (AddAddr(True, 2, "2001:db8::1", 80), "ADD_ADDR echo id=2 [2001:db8::1]:80"),
        (AddAddrV0(4, 3, "10.1.2.2"), "ADD_ADDR v0 id=3 10.1.2.2"),
        (RemoveAddr((1, 2)), "REMOVE_ADDR ids=1,2"),
        (MpPrio(1), "MP_PRIO B"),
        (MpPrio(0, 4), "MP_PRIO id=4"),
        (MpFail(77), "MP_FAIL dsn=77"),
        (MpFastclose(0xAB), "MP_FASTCLOSE rkey=0xab"),
        (MpTcpRst(1, 6), "MP_TCPRST reason=middlebox-interference T"),
        (MpTcpRst(0xC, 0x42), "MP_TCPRST reason=0x42 U V"),
        (MpExperimental(1, b"\x01"), "MP_EXPERIMENTAL low=0x1 data=01"),
        (UnknownSubtype(9, 0, b""), "UNKNOWN subtype=9 low=0x0 data="),
    ],
)
def test_describe(option: MptcpOption, text: str) -> None:
    assert describe(option) == text


def test_option_to_dict_is_json_ready() -> None:
    ack = option_to_dict(MpJoinAck(b"\x01" * 20, 5))
    assert ack == {
        "subtype": "MP_JOIN",
        "subtype_number": 1,
        "type": "MpJoinAck",
        "hmac": "01" * 20,
        "reserved": 5,
    }
    remove = option_to_dict(RemoveAddr((3, 4)))
    assert json.loads(json.dumps(remove)) == {
        "subtype": "REMOVE_ADDR",
        "subtype_number": 4,
        "type": "RemoveAddr",
        "address_ids": [3, 4],
        "reserved": 0,
    }
    unknown = option_to_dict(UnknownSubtype(12, 1, b"\xff"))
    assert (unknown["subtype"], unknown["subtype_number"], unknown["data"]) == ("UNKNOWN", 12, "ff")
    assert "subtype" in unknown and "low_bits" in unknown


@given(mptcp_options())
def test_describe_and_dict_cover_every_option(option: MptcpOption) -> None:
    name = option_to_dict(option)["subtype"]
    assert isinstance(name, str)
    assert describe(option).startswith(name if name != "UNKNOWN" else "UNKNOWN subtype=")
    json.dumps(option_to_dict(option))

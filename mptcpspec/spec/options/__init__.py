"""MPTCP option wire formats (TCP option kind 30), RFC 8684 §3 and the RFC 6824 (v0) forms.

Every subtype is a frozen dataclass (``_types``).  ``parse(data)`` takes the whole option (kind byte,
length byte and body) and returns one of them, or raises an ``OptionError`` subclass naming what is
wrong; ``serialize(option)`` is its exact inverse; ``scan_tcp_options(raw)`` walks a whole TCP options
field.  ``describe`` and ``option_to_dict`` give the text and JSON forms.  Each subtype's layout, parser
and serializer sit together in ``_core`` (MP_CAPABLE, MP_JOIN, DSS) or ``_control`` (the rest).

>>> opt = parse(bytes.fromhex("1e08200100000064"))
>>> describe(opt)
'DSS ack=100'
>>> serialize(opt).hex()
'1e08200100000064'
"""

from __future__ import annotations

from ..errors import OptionError
from ._text import describe, option_to_dict
from ._types import (
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
    subtype_of,
)
from ._wire import parse, scan_tcp_options, serialize

__all__ = [
    "MPTCP_KIND",
    "AddAddr",
    "AddAddrV0",
    "Dss",
    "MpCapable",
    "MpExperimental",
    "MpFail",
    "MpFastclose",
    "MpJoinAck",
    "MpJoinSyn",
    "MpJoinSynAck",
    "MpPrio",
    "MpTcpRst",
    "MptcpOption",
    "OptionError",
    "RemoveAddr",
    "Subtype",
    "TcpRstReason",
    "UnknownSubtype",
    "describe",
    "option_to_dict",
    "parse",
    "scan_tcp_options",
    "serialize",
    "subtype_of",
]

"""The reference MPTCP v1 endpoint: sans-IO (``Endpoint``), an in-process network (``sim``) and a TUN
driver (``tun``) that puts it on a real wire against other stacks (RFC 8684).

>>> from mptcpspec.reference import Config, Endpoint, Role
>>> client = Endpoint(Role.CLIENT, Config())
>>> client.connect(("192.0.2.1", 40000), ("192.0.2.2", 80), now=0.0)
>>> [s.flags for s in client.segments_to_send(0.0)]  # one SYN with MP_CAPABLE
[2]
"""

from .endpoint import Endpoint, Observer
from .events import (
    AddressAnnounced,
    AddressRemoved,
    ConnectionClosed,
    ConnectionEstablished,
    DataReceived,
    Event,
    StreamEnded,
    SubflowClosed,
    SubflowEstablished,
)
from .state import Config, Role

__all__ = [
    "AddressAnnounced",
    "AddressRemoved",
    "Config",
    "ConnectionClosed",
    "ConnectionEstablished",
    "DataReceived",
    "Endpoint",
    "Event",
    "Observer",
    "Role",
    "StreamEnded",
    "SubflowClosed",
    "SubflowEstablished",
]

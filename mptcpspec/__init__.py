"""mptcpspec: an executable specification of Multipath TCP (RFC 8684, RFC 6824).

The public API, re-exported here:

- ``Segment``: one TCP segment as seen on the wire (``mptcpspec.spec.segment``).
- ``Rule``, ``Finding``, ``Verdict``, ``Level``, ``CATALOGUE``: the rule vocabulary and catalogue.
- ``ConnectionMonitor``: the executable spec; ``step(segment, from_initiator)`` returns findings.
- ``open_capture``: pcap/pcapng input as Segments (``mptcpspec.capture``).
- ``validate_file``, ``validate_segments``: the trace checker, returning a ``FileReport``.

Wire formats and crypto live in ``mptcpspec.spec.options`` and ``mptcpspec.spec.crypto``; the
reference endpoint in ``mptcpspec.reference``; the active suite in ``mptcpspec.conformance.conform``.
"""

from .capture import open_capture
from .conformance.replay import validate_file, validate_segments
from .conformance.results import FileReport
from .spec.catalogue import CATALOGUE
from .spec.monitor import ConnectionMonitor
from .spec.rules import Finding, Level, Rule, Verdict
from .spec.segment import Segment

__version__ = "0.1.0"

__all__ = [
    "CATALOGUE",
    "ConnectionMonitor",
    "FileReport",
    "Finding",
    "Level",
    "Rule",
    "Segment",
    "Verdict",
    "__version__",
    "open_capture",
    "validate_file",
    "validate_segments",
]

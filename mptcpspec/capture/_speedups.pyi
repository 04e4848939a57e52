"""Types of the capture reader's native fast path (``_speedups.c``)."""

from collections.abc import Callable, Sequence

from ..spec.errors import OptionError
from ..spec.options import Dss, MptcpOption
from ..spec.segment import Segment
from .source import RawRecord

class Batch:
    def __init__(
        self,
        segment_type: type[Segment],
        dss_type: type[Dss],
        names: dict[bytes, str],
        name_of: Callable[[bytes], str],
        scan: Callable[[bytes], tuple[tuple[MptcpOption, ...], tuple[OptionError, ...]]],
        /,
    ) -> None: ...
    def pcap(
        self,
        buf: bytes,
        pos: int,
        frame: int,
        out: list[RawRecord | Segment],
        little: bool,
        ns_per_unit: int,
        linktype: int,
        /,
    ) -> tuple[int, int]: ...
    def pcapng(
        self,
        buf: bytes,
        pos: int,
        frame: int,
        out: list[RawRecord | Segment],
        little: bool,
        interfaces: Sequence[tuple[int, int, int, int, int]],
        last_ns: int,
        /,
    ) -> tuple[int, int, int]: ...

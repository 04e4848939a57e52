"""Types of the capture reader's native fast path (``_speedups.c``)."""

from collections.abc import Callable

from ..spec.errors import OptionError
from ..spec.options import Dss, MptcpOption
from ..spec.segment import Segment
from .source import RawRecord

class PcapBatch:
    def __init__(
        self,
        segment_type: type[Segment],
        dss_type: type[Dss],
        names: dict[bytes, str],
        name_of: Callable[[bytes], str],
        scan: Callable[[bytes], tuple[tuple[MptcpOption, ...], tuple[OptionError, ...]]],
        little: bool,
        ns_per_unit: int,
        linktype: int,
        /,
    ) -> None: ...
    def decode(
        self, buf: bytes, pos: int, frame: int, out: list[RawRecord | Segment], /
    ) -> tuple[int, int]: ...

"""Human and machine renderings of one segment, for ``mptcpspec decode``."""

from __future__ import annotations

from .spec.options import describe, option_to_dict
from .spec.segment import Segment, flags_text

__all__ = ["segment_line", "segment_record"]


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def segment_line(segment: Segment) -> str:
    """One line: frame, time, 4-tuple, flags, seq/ack, length, then the MPTCP options."""
    parts = [describe(option) for option in segment.mptcp]
    parts += [f"MALFORMED({error.message})" for error in segment.option_errors]
    return (
        f"{segment.frame:>7} {segment.time:.6f} {_endpoint(segment.src, segment.sport)} > "
        f"{_endpoint(segment.dst, segment.dport)} [{flags_text(segment.flags)}] seq {segment.seq} "
        f"ack {segment.ack} len {segment.payload_len} | " + "; ".join(parts)
    )


def segment_record(segment: Segment) -> dict[str, object]:
    """The same as a JSON-ready dict."""
    return {
        "frame": segment.frame,
        "time": segment.time,
        "src": segment.src,
        "sport": segment.sport,
        "dst": segment.dst,
        "dport": segment.dport,
        "flags": flags_text(segment.flags),
        "seq": segment.seq,
        "ack": segment.ack,
        "len": segment.payload_len,
        "mptcp": [option_to_dict(option) for option in segment.mptcp],
        "errors": [
            {"error": type(error).__name__, "message": error.message, "subtype": error.subtype}
            for error in segment.option_errors
        ],
    }

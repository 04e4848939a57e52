"""DSS checksum failures and how the receiver's reaction decides them (RFC 8684 §3.3.1, §3.7).

A mapping whose checksum does not match its data is not judged at once: the data may have been changed
on the way (what checksums are for), and then the receiver answers with MP_FAIL or a RST.  Such an
answer explains the failure (a note); a DATA_ACK past the data shows the receiver took it (a
violation); silence is a violation unless the capture may have missed the answer.
"""

from __future__ import annotations

from typing import Protocol

from .context import HOSTS, Context
from .mapping import DSS_CHECKSUM, MASK64
from .segment import Segment

__all__ = ["ChecksumFailure", "FailureContext", "answer_checksum_failure", "unanswered_checksum"]


class ChecksumFailure:
    """A mapping sent by ``host`` whose checksum does not match its data (RFC 8684 §3.3.1, §3.7).

    It is judged by the receiver's reaction: an MP_FAIL or a RST shows the data changed on the way
    (checksums at work); a DATA_ACK beyond ``end`` (``accepted``, its frame) shows the receiver took it.
    """

    __slots__ = ("accepted", "end", "frame", "host", "message", "subflow")

    def __init__(self, host: int, frame: int, subflow: str, message: str, end: int) -> None:
        self.host = host
        self.frame = frame
        self.subflow = subflow
        self.message = message
        self.end = end
        self.accepted = 0


class FailureContext(Context, Protocol):
    """What the failure judgement sees of the monitor."""

    @property
    def checksum_failures(self) -> list[ChecksumFailure]: ...

    def lossy(self, h: int) -> bool: ...

    @property
    def complete(self) -> bool: ...

    @property
    def closed(self) -> bool: ...


def unanswered_checksum(m: FailureContext, failure: ChecksumFailure) -> None:
    """A checksum failure nobody answered in the capture (RFC 8684 §3.3.1, §3.7).

    Conclusive when the receiver DATA_ACKed the data, or when the capture shows no sign that a
    reaction could be missing from it: it saw the connection to its end (or sees everything), with no
    loss towards or from the receiver, no MP_FAIL from either host and no infinite mapping.
    """
    m.judge.checks += 1
    conn, receiver = m.conn, 1 - failure.host
    name = HOSTS[receiver]
    # The sender's MP_FAIL answers one from the receiver that the capture may have missed (a seen one
    # would have explained this failure already, unless it named a later DSN).
    replied = bool(conn.fail_frame[failure.host]) and not conn.fail_frame[receiver]
    if failure.accepted and not replied:
        m.judge.breach(
            DSS_CHECKSUM,
            (failure.frame, failure.accepted),
            f"{failure.message}; {name} "
            f"DATA_ACKed it at frame {failure.accepted} with neither MP_FAIL nor a RST",
            failure.subflow,
        )
        return
    handled = any(conn.fail_frame) or conn.infinite_subflow[failure.host] is not None
    seen_to_the_end = m.complete or m.closed
    if handled or not seen_to_the_end or m.lossy(receiver) or m.lossy(failure.host):
        m.judge.undetermined(
            DSS_CHECKSUM,
            (failure.frame,),
            f"{failure.message}; the capture shows no reaction from {name}, but it may have missed it",
            failure.subflow,
        )
        return
    m.judge.breach(
        DSS_CHECKSUM,
        (failure.frame,),
        f"{failure.message}; {name} answered with neither MP_FAIL nor a RST",
        failure.subflow,
    )


def answer_checksum_failure(
    m: FailureContext, seg: Segment, h: int, how: str, fail_dsn: int | None = None
) -> None:
    """Host ``h`` sent MP_FAIL or a RST: the checksum failures of the other host's data are explained.

    An MP_FAIL names a DSN and makes its receiver discard the data from there on (RFC 8684 §3.7): it
    explains only the failures of mappings that reach beyond that DSN.
    """
    kept = []
    for failure in m.checksum_failures:
        reaches = fail_dsn is None or 0 < (failure.end - fail_dsn) & MASK64 < 1 << 63
        if failure.host == 1 - h and reaches:
            m.judge.note(
                DSS_CHECKSUM,
                (failure.frame, seg.frame),
                f"{failure.message}; {HOSTS[h]} answered with "
                f"{how} at frame {seg.frame}: the data changed on the way (checksums at work)",
                failure.subflow,
            )
        else:
            kept.append(failure)
    m.checksum_failures[:] = kept

"""One error hierarchy for the whole project.

``MptcpError`` is the root.  ``OptionError`` and its subclasses are what the option parser raises on
malformed wire bytes (the monitor turns them into ``options.malformed`` findings).  ``ProtocolError``
is for the reference endpoint: a ``LocalProtocolError`` means our own side was asked to do something
the protocol forbids, a ``RemoteProtocolError`` means the peer did.  Each concrete error names the RFC
section it comes from.
"""

from __future__ import annotations

__all__ = [
    "BadLength",
    "LocalProtocolError",
    "MptcpError",
    "OptionError",
    "ProtocolError",
    "RemoteProtocolError",
    "TruncatedOption",
    "UnknownVersion",
]


class MptcpError(Exception):
    """Root of every error mptcpspec raises on purpose."""


class OptionError(MptcpError):
    """A TCP option of kind 30 (MPTCP) whose bytes do not form a valid option.

    ``subtype`` is the MPTCP subtype when the bytes got that far (else ``None``), ``length`` the option
    length byte as sent (else ``None``), ``section`` the RFC 8684 section that defines the layout.
    """

    def __init__(
        self, message: str, *, subtype: int | None = None, length: int | None = None, section: str = "3"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.subtype = subtype
        self.length = length
        self.section = section


class TruncatedOption(OptionError):
    """The option claims more bytes than there are (or fewer than its fixed header)."""


class BadLength(OptionError):
    """The option length does not match any layout allowed for its subtype and flags."""


class UnknownVersion(OptionError):
    """An MP_CAPABLE option with a version this parser has no layout for (RFC 8684 §3.1)."""


class ProtocolError(MptcpError):
    """A protocol rule was broken; ``section`` cites RFC 8684, ``reaction`` is what the RFC prescribes."""

    def __init__(self, message: str, *, section: str, reaction: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.section = section
        self.reaction = reaction


class LocalProtocolError(ProtocolError):
    """Our own endpoint was asked to do something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""

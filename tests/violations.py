"""Small captures with one known violation, shared by tests in several directories."""

from __future__ import annotations

from pathlib import Path

from mptcpspec.conformance.conversation import Conversation

__all__ = ["checksum_violation"]


def checksum_violation(path: Path, seed: int = 11) -> Path:
    """A connection with DSS checksums on whose second data segment carries a wrong checksum."""
    conv = Conversation(seed=seed, checksum=True)
    conv.connect()
    conv.send("A", 1400)
    conv.send("A", 1400, wrong_checksum=True)
    conv.close()
    conv.write(str(path))
    return path

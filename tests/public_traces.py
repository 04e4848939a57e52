"""Where the public MPTCP captures of other stacks are: ``../shared/traces-public`` beside the checkout,
else ``/work/shared/traces-public``, or ``$MPTCPSPEC_PUBLIC_TRACES``.  Tests that read them skip when
the folder is absent; nothing is copied into the project."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PUBLIC"]

_CANDIDATES = (
    os.environ.get("MPTCPSPEC_PUBLIC_TRACES", ""),
    str(Path(__file__).resolve().parents[2] / "shared" / "traces-public"),
    "/work/shared/traces-public",
)
PUBLIC = next((Path(c) for c in _CANDIDATES if c and Path(c).is_dir()), Path(_CANDIDATES[1]))

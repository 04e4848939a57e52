"""The state diagrams are the tables: every transition that moves or checks is an edge."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from mptcpspec.spec.connection import CLOSE_TRANSITIONS
from mptcpspec.spec.diagrams import close_dot, connection_dot, subflow_dot
from mptcpspec.spec.subflow import TRANSITIONS


def test_every_moving_or_checking_subflow_transition_is_an_edge() -> None:
    dot = subflow_dot()
    for (state, event), transition in TRANSITIONS.items():
        if transition.next is not state or transition.rules:
            assert f'"{state.value}" -> "{transition.next.value}" [label="{event.value}' in dot
    assert '"syn-received" -> "pre-established"' in dot and "join.ack-hmac" in dot


def test_appendix_d_diagram_has_the_orderly_close_path() -> None:
    dot = close_dot()
    moving = sum(1 for (state, _), after in CLOSE_TRANSITIONS.items() if after is not state)
    assert dot.count("->") == moving
    assert '"established" -> "fin-wait-1" [label="send-data-fin"]' in dot
    assert '"last-ack" -> "closed" [label="data-fin-acked"]' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_graphviz_accepts_the_diagrams() -> None:
    for text in (subflow_dot(), connection_dot(), close_dot()):
        subprocess.run(["dot", "-Tsvg"], input=text.encode(), check=True, capture_output=True)

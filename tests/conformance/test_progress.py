"""The progress bar of mptcpspec.conformance.progress: drawn on terminals only, erased when done."""

from __future__ import annotations

import io

from mptcpspec.conformance.progress import Progress, track


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bar_is_drawn_on_a_terminal_after_the_delay_and_erased() -> None:
    stream, clock = Terminal(), Clock()
    with Progress(4, stream=stream, clock=clock, delay=0.5) as bar:
        bar.advance()
        assert stream.getvalue() == ""  # a quick start shows nothing
        clock.now += 1.0
        bar.advance()
        assert stream.getvalue() == "\rvalidate [##############--------------]  2/4 files  1.0 s"
        clock.now += 0.01
        bar.advance()
        assert stream.getvalue().count("\r") == 1  # redraws at most ten times a second
        bar.advance()  # the last unit is always drawn
        assert stream.getvalue().endswith("\rvalidate [############################]  4/4 files  1.0 s")
    assert stream.getvalue().endswith(
        "\r" + " " * len("validate [############################]  4/4 files  1.0 s") + "\r"
    )


def test_nothing_is_written_when_not_a_terminal_or_disabled() -> None:
    stream, clock = io.StringIO(), Clock()
    bar = Progress(2, stream=stream, clock=clock, delay=0.0)
    clock.now += 1
    bar.advance(2)
    bar.clear()
    assert stream.getvalue() == ""
    quiet = Terminal()
    bar = Progress(2, stream=quiet, enabled=False, clock=clock, delay=0.0)
    clock.now += 1
    bar.advance(2)
    assert quiet.getvalue() == ""


def test_unknown_total_shows_the_count() -> None:
    clock = Clock()
    bar = Progress(None, unit="packets", stream=Terminal(), clock=clock)
    bar.done = 41
    clock.now += 2.5
    assert bar.line() == "validate 41 packets  2.5 s"


def test_track_yields_every_item_and_clears_before_each() -> None:
    stream, clock = Terminal(), Clock()
    seen = []
    bar = Progress(3, stream=stream, clock=clock, delay=0.0)
    for item in track(["a", "b", "c"], bar):
        clock.now += 0.2
        seen.append((item, stream.getvalue().endswith("\r") or stream.getvalue() == ""))
    assert [item for item, _ in seen] == ["a", "b", "c"]
    assert all(cleared for _, cleared in seen)  # the consumer never prints next to a drawn bar
    assert bar.done == 3
    assert stream.getvalue().endswith("\r")

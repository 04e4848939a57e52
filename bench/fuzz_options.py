"""Fuzz the MPTCP option parser: any input must parse or raise OptionError, nothing else.

Inputs come in three equal shares: random bytes (0 to 48), a kind-30 header with a consistent length
byte and a random body, and well-formed options (``strategies.well_formed_option``) with 1 to 4 bytes
changed, a quarter of them also cut short and a quarter lengthened.  Each input is parsed with the
version hint None, 0 or 1; what parses must serialize back to the same bytes, and every tenth input is
also walked as part of a whole TCP options field.

    .venv/bin/python bench/fuzz_options.py [N] [--seed S]

prints the inputs run, the outcomes by class, the parse rate, every non-OptionError exception with its
input, and exits 1 if there was one.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from mptcpspec.conformance.strategies import well_formed_option
from mptcpspec.spec.errors import OptionError
from mptcpspec.spec.options import MPTCP_KIND, parse, scan_tcp_options, serialize

_VERSIONS = (None, 0, 1)


def _mutated(rng: random.Random) -> bytes:
    data = bytearray(well_formed_option(rng.randint, rng.randbytes))
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    if rng.random() < 0.25:
        del data[rng.randint(0, len(data)) :]
    if rng.random() < 0.25:
        data += rng.randbytes(rng.randint(1, 4))
    return bytes(data)


def _make_input(rng: random.Random, i: int) -> bytes:
    share = i % 3
    if share == 0:
        return rng.randbytes(rng.randint(0, 48))
    if share == 1:
        body = rng.randbytes(rng.randint(0, 46))
        return bytes((MPTCP_KIND, len(body) + 2)) + body
    return _mutated(rng)


def _outcome(data: bytes, version: int | None) -> str:
    """The class name of what parsing ``data`` gives; ``roundtrip-mismatch`` if it does not re-serialize."""
    try:
        option = parse(data, version=version)
    except OptionError as error:
        return type(error).__name__
    return type(option).__name__ if serialize(option) == data else "roundtrip-mismatch"


def run(count: int, seed: int) -> int:
    """Fuzz ``count`` inputs; print the figures and return the number of unexpected outcomes."""
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    start = time.perf_counter()
    for i in range(count):
        data = _make_input(rng, i)
        version = rng.choice(_VERSIONS)
        try:
            name = _outcome(data, version)
            outcomes[name] += 1
            if name == "roundtrip-mismatch":
                failures.append(f"{name}: input={data.hex()} version={version}")
            if i % 10 == 0:
                scan_tcp_options(data + _make_input(rng, i + 1), version=version)
        except Exception as error:  # the point of the run: anything that is not an OptionError
            outcomes[f"UNEXPECTED {type(error).__name__}"] += 1
            failures.append(f"{type(error).__name__}: {error} input={data.hex()} version={version}")
    seconds = time.perf_counter() - start
    print(f"inputs run: {count:,} (seed {seed}) in {seconds:.1f} s, {count / seconds:,.0f} inputs/s")
    for name, n in outcomes.most_common():
        print(f"  {name:<22} {n:>10,}  {100 * n / count:6.2f} %")
    for line in failures[:20]:
        print("FAIL", line)
    print(f"non-OptionError exceptions and round-trip mismatches: {len(failures)}")
    return len(failures)


def _dss_rate(rng: random.Random, count: int = 200_000) -> float:
    """Parses per second of well-formed DSS options (the hot path of a capture)."""
    samples: list[bytes] = []
    while len(samples) < 1000:
        data = well_formed_option(rng.randint, rng.randbytes)
        if data[2] >> 4 == 2:
            samples.append(data)
    start = time.perf_counter()
    for i in range(count):
        parse(samples[i % 1000])
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fuzz mptcpspec's MPTCP option parser.")
    parser.add_argument("count", nargs="?", type=int, default=1_000_000, help="inputs to run (1,000,000)")
    parser.add_argument("--seed", type=int, default=8684)
    args = parser.parse_args(argv)
    failures = run(args.count, args.seed)
    print(f"well-formed DSS parse rate: {_dss_rate(random.Random(args.seed)):,.0f} options/s")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

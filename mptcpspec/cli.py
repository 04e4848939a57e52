"""The ``mptcpspec`` command: parse arguments, call the library, format the result.

Every failure the user can cause (a missing file, a file that is not a capture, a bad argument) ends
in one line on stderr and exit status 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import __version__
from .spec.errors import MptcpError

if TYPE_CHECKING:
    from .conformance.batch import OutputOptions
    from .spec.events import MonitorEvent, Observer

__all__ = ["main"]

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_UNUSABLE = 2


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit status 2."""


def _int(text: str) -> int:
    """An integer in decimal or with a 0x prefix (keys, tokens and nonces are usually hex)."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an integer: {text!r} (use decimal or 0x-prefixed hex)"
        ) from None


# --- decode -------------------------------------------------------------------------------------


def _cmd_decode(args: argparse.Namespace, out: TextIO) -> int:
    from .capture import open_capture
    from .decode import segment_line, segment_record

    reader = open_capture(args.file)
    for segment in reader.segments(mptcp_only=True):
        if not (segment.mptcp or segment.option_errors):
            continue
        if args.json:
            out.write(json.dumps(segment_record(segment)) + "\n")
        else:
            out.write(segment_line(segment) + "\n")
    for note in reader.notes:
        if args.json:
            out.write(json.dumps({"note": note.kind, "frame": note.frame, "message": note.message}) + "\n")
        else:
            out.write(f"note: frame {note.frame}: {note.kind}: {note.message}\n")
    return EXIT_OK


# --- crypto -------------------------------------------------------------------------------------


def _cmd_crypto(args: argparse.Namespace, out: TextIO) -> int:
    from .spec import crypto

    version = 0 if args.v0 else 1
    if args.what == "token":
        out.write(f"0x{crypto.key_token(args.key, version):08x}\n")
    elif args.what == "idsn":
        out.write(f"0x{crypto.key_idsn(args.key, version):016x}\n")
    elif args.what == "join-synack":
        value = crypto.join_synack_hmac(args.key_b, args.key_a, args.nonce_b, args.nonce_a, version)
        out.write(f"0x{value:016x}\n")
    elif args.what == "join-ack":
        digest = crypto.join_ack_hmac(args.key_a, args.key_b, args.nonce_a, args.nonce_b, version)
        out.write(digest.hex() + "\n")
    else:
        value = crypto.add_addr_hmac(
            args.key_sender, args.key_receiver, args.address_id, args.address, args.port
        )
        out.write(f"0x{value:016x}\n")
    return EXIT_OK


def _add_crypto_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    crypto = sub.add_parser(
        "crypto", help="reference values: tokens, IDSNs, HMACs (RFC 8684 §3.1, §3.2, §3.4.1)"
    )
    kinds = crypto.add_subparsers(dest="what", required=True, metavar="WHAT")

    def kind(name: str, text: str) -> argparse.ArgumentParser:
        p = kinds.add_parser(name, help=text, description=text)
        p.add_argument("--v0", action="store_true", help="RFC 6824 (SHA-1) instead of RFC 8684 (SHA-256)")
        return p

    for name, text in (("token", "the 32-bit token of a 64-bit key"), ("idsn", "the 64-bit IDSN of a key")):
        kind(name, text).add_argument("key", type=_int)
    synack = kind("join-synack", "truncated 64-bit HMAC of the MP_JOIN SYN/ACK, sent by the listener B")
    ack = kind("join-ack", "160-bit HMAC of the MP_JOIN third ACK, sent by the initiator A")
    for p in (synack, ack):
        for field in ("key_a", "key_b", "nonce_a", "nonce_b"):
            p.add_argument(f"--{field.replace('_', '-')}", dest=field, type=_int, required=True)
    add_addr = kind("add-addr", "truncated 64-bit HMAC of a v1 ADD_ADDR")
    add_addr.add_argument("--key-sender", type=_int, required=True)
    add_addr.add_argument("--key-receiver", type=_int, required=True)
    add_addr.add_argument("--address-id", type=_int, required=True)
    add_addr.add_argument("--address", required=True)
    add_addr.add_argument("--port", type=_int, default=None)
    crypto.set_defaults(handler=_cmd_crypto)


# --- rules / explain ------------------------------------------------------------------------------


def _cmd_rules(args: argparse.Namespace, out: TextIO) -> int:
    from .spec.catalogue import CATALOGUE

    rules = sorted(CATALOGUE.values(), key=lambda r: r.id)
    width = max(len(r.id) for r in rules)
    if args.coverage:
        from .conformance.witnesses import coverage

        covered = coverage()
        for rule in rules:
            out.write(f"{rule.id:<{width}}  {covered[rule.id]}\n")
        tested = sum(1 for value in covered.values() if not value.startswith("none"))
        out.write(f"{tested} of {len(rules)} rules tested on the wire or witnessed\n")
        return EXIT_OK
    for rule in rules:
        out.write(f"{rule.id:<{width}}  {rule.level.value:<6}  {rule.citation:<16}  {rule.summary}\n")
    out.write(f"{len(rules)} rules\n")
    return EXIT_OK


def _cmd_conform(args: argparse.Namespace, out: TextIO) -> int:
    from .conformance import conform
    from .conformance.stacks.base import StackUnavailable

    try:
        stack = conform.make_stack(args.stack)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    def progress(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    capture_dir = Path(args.capture_dir) if args.capture_dir else None
    if capture_dir is not None:
        capture_dir.mkdir(parents=True, exist_ok=True)
    try:
        suite = conform.run_suite(stack, pattern=args.k, capture_dir=capture_dir, log=progress)
    except StackUnavailable as exc:
        raise UsageError(f"stack {args.stack} cannot run here: {exc}") from None
    out.write(conform.format_summary(suite) + "\n")
    if args.junit:
        Path(args.junit).write_text(conform.junit_xml(suite), encoding="utf-8")
    return EXIT_VIOLATION if suite.failed else EXIT_OK


def _cmd_explain(args: argparse.Namespace, out: TextIO) -> int:
    from .spec.catalogue import CATALOGUE

    rule = CATALOGUE.get(args.rule)
    if rule is None:
        close = [r for r in sorted(CATALOGUE) if args.rule in r]
        hint = f" (did you mean: {', '.join(close[:5])})" if close else " (see `mptcpspec rules`)"
        raise UsageError(f"no rule {args.rule!r}{hint}")
    out.write(f"{rule.id}: {rule.summary}\n  level: {rule.level.value}\n  where: {rule.citation}\n")
    return EXIT_OK


# --- validate -------------------------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    from .conformance.batch import OutputOptions
    from .conformance.report import use_color

    outputs = OutputOptions(
        format=args.format,
        junit=args.junit,
        annotate=args.annotate,
        report_dir=args.report,
        color=args.format == "text" and use_color(out),
    )
    if not args.trace:
        return _run_validate(args, out, outputs, None)
    with open(args.trace, "w", encoding="utf-8") as lines:
        return _run_validate(args, out, outputs, functools.partial(_write_event, lines))


def _run_validate(
    args: argparse.Namespace, out: TextIO, outputs: OutputOptions, trace: Observer | None
) -> int:
    from .conformance.batch import run_validate

    try:
        return run_validate(
            args.files,
            out,
            outputs,
            jobs=args.jobs,
            dask=args.dask,
            strict=args.strict,
            rules=args.rules,
            trace=trace,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _write_event(lines: TextIO, event: MonitorEvent) -> None:
    """One monitor event as one JSON line (the ``--trace`` output)."""
    lines.write(json.dumps(event.to_dict()) + "\n")


def _cmd_plot(args: argparse.Namespace, out: TextIO) -> int:
    from .conformance.plot import plot_connection
    from .conformance.replay import validate_file

    report = validate_file(args.file, series=True)
    if report.error:
        raise UsageError(f"{args.file}: {report.error}")
    try:
        written = plot_connection(report, args.connection, args.output)
    except (LookupError, ValueError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    out.write(f"{written}\n")
    return EXIT_OK


# --- capture ----------------------------------------------------------------------------------------


def _cmd_capture(args: argparse.Namespace, out: TextIO) -> int:
    from .conformance.stacks import scenarios

    if args.list or not args.scenarios:
        for name, scenario in scenarios.SCENARIOS.items():
            out.write(f"{name:<22} {scenario.description}\n")
        return EXIT_OK
    unknown = [n for n in args.scenarios if n not in scenarios.SCENARIOS]
    if unknown:
        raise UsageError(f"unknown scenario(s): {', '.join(unknown)} (see `mptcpspec capture --list`)")
    reason = scenarios.root_unavailable_reason()
    if reason:
        raise UsageError(f"capture needs root, network namespaces and kernel MPTCP: {reason}")
    if args.out is None:
        raise UsageError("--out DIR is required")
    results = scenarios.capture_scenarios(
        args.scenarios, Path(args.out), log=lambda m: print(m, file=sys.stderr)
    )
    for result in results:
        if result.ok:
            out.write(f"{result.name}: {result.pcap}\n")
            continue
        problems = [result.error] if result.error else list(result.problems)
        out.write(f"{result.name}: FAILED: {'; '.join(problems)}\n")
    return EXIT_OK if all(result.ok for result in results) else EXIT_VIOLATION


# --- peer -----------------------------------------------------------------------------------------


def _endpoint(text: str) -> tuple[str, int]:
    """``ADDRESS:PORT`` (IPv6 in brackets: ``[2001:db8::1]:80``)."""
    address, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"not ADDRESS:PORT: {text!r}")
    return address.strip("[]"), int(port)


def _cmd_peer(args: argparse.Namespace, out: TextIO) -> int:
    from .reference.state import Config
    from .reference.tun import open_in_netns, peer_connect, peer_listen

    data = Path(args.send).read_bytes() if args.send else bytes(i % 251 for i in range(args.bytes))
    config = Config(checksum=args.checksum)
    addresses = [args.address, *(local for local, _ in args.join)]
    with open_in_netns(args.netns, addresses, args.device) as device:
        if args.role == "connect":
            result = peer_connect(
                device,
                args.address,
                args.to,
                data,
                config=config,
                timeout=args.timeout,
                joins=tuple(args.join),
            )
        else:
            result = peer_listen(
                device, data, config=config, timeout=args.timeout, announce=tuple(args.announce)
            )
    end = "reset" if result.reset else "closed" if result.closed else "still open at the timeout"
    out.write(
        f"sent {len(data)} bytes, received {len(result.received)} (sha256 {result.sha256}); "
        f"{result.subflows} subflow(s); connection {end} after {result.seconds:.2f} s\n"
    )
    for finding in result.findings:
        where = ",".join(map(str, finding.frames))
        out.write(f"finding: {finding.rule.id} {finding.verdict.value} frames {where}: {finding.message}\n")
    violated = any(f.is_violation for f in result.findings)
    return EXIT_VIOLATION if violated or not result.closed else EXIT_OK


def _join(text: str) -> tuple[str, str]:
    local, sep, remote = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"not LOCAL=REMOTE: {text!r}")
    return local, remote


def _add_peer_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    peer = sub.add_parser(
        "peer",
        help="run the reference endpoint on a TUN device in a network namespace (root)",
        description="The reference MPTCP endpoint on the wire: a TUN device in namespace NETNS owns the "
        "given addresses (routed to it, owned by no other interface), and the kernel there is the peer.",
    )
    roles = peer.add_subparsers(dest="role", required=True, metavar="connect|listen")
    connect = roles.add_parser("connect", help="connect to TO, send, read the answer, close")
    connect.add_argument("--to", type=_endpoint, required=True, metavar="ADDRESS:PORT")
    connect.add_argument("--join", type=_join, action="append", default=[], metavar="LOCAL=REMOTE",
                         help="also open a subflow from LOCAL to REMOTE (repeatable)")  # fmt: skip
    listen = roles.add_parser("listen", help="accept one connection, read it, answer, close")
    listen.add_argument("--announce", action="append", default=[], metavar="ADDRESS",
                        help="send ADD_ADDR for ADDRESS once connected (repeatable)")  # fmt: skip
    listen.set_defaults(join=[])
    for role in (connect, listen):
        role.add_argument("--netns", required=True, help="the namespace of the kernel peer")
        role.add_argument("--address", required=True, help="the endpoint's own address")
        role.add_argument("--device", default="mpref0", help="TUN device name (default mpref0)")
        role.add_argument("--bytes", type=int, default=100_000, help="how much to send (default 100000)")
        role.add_argument("--send", metavar="FILE", help="send this file instead")
        role.add_argument("--checksum", action="store_true", help="ask for DSS checksums")
        role.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    peer.set_defaults(handler=_cmd_peer)


# --- the parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each subcommand sets ``handler``."""
    parser = argparse.ArgumentParser(
        prog="mptcpspec",
        description="An executable specification of Multipath TCP (RFC 8684, RFC 6824): check captures, "
        "compute reference values, capture the Linux kernel.",
    )
    parser.add_argument("--version", action="version", version=f"mptcpspec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = sub.add_parser("validate", help="check captures against the spec; exit 1 on any violation")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    validate.add_argument(
        "--annotate", metavar="OUT.pcapng", help="write the capture with findings as comments"
    )
    validate.add_argument("--rules", metavar="PATTERNS", help="select/ignore rules: 'dss.*,-dss.checksum'")
    validate.add_argument("--strict", action="store_true", help="report SHOULD deviations as violations")
    validate.add_argument("--report", metavar="DIR", help="write a self-contained HTML report per capture")
    validate.add_argument("--jobs", type=int, default=1, metavar="N", help="validate N files at once")
    validate.add_argument("--dask", metavar="ADDRESS", help="spread files over a Dask cluster (extra: dask)")
    validate.add_argument(
        "--trace", metavar="FILE", help="write every monitor event as JSON lines (qlog-like)"
    )
    validate.set_defaults(handler=_cmd_validate)

    plot = sub.add_parser("plot", help="draw the data sequence graph of a connection (extra: plot)")
    plot.add_argument("file", metavar="FILE")
    plot.add_argument(
        "--connection", metavar="ID", help="connection id as `validate` names it (default: first)"
    )
    plot.add_argument("-o", "--output", required=True, metavar="OUT.png|svg")
    plot.set_defaults(handler=_cmd_plot)

    decode = sub.add_parser("decode", help="print every segment that carries MPTCP options")
    decode.add_argument("file", metavar="FILE")
    decode.add_argument("--json", action="store_true", help="one JSON object per line")
    decode.set_defaults(handler=_cmd_decode)

    _add_crypto_parser(sub)
    _add_peer_parser(sub)

    rules = sub.add_parser("rules", help="list the rule catalogue")
    rules.add_argument(
        "--coverage", action="store_true", help="per rule: tested on the wire, witnessed, or not"
    )
    rules.set_defaults(handler=_cmd_rules)

    conform_ = sub.add_parser("conform", help="run the active conformance suite against a live stack")
    conform_.add_argument("--stack", default="reference", help="linux, reference or command:'<command line>'")
    conform_.add_argument(
        "-k", metavar="PATTERN", help="only the cases whose name contains or matches PATTERN"
    )
    conform_.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    conform_.add_argument("--capture-dir", metavar="DIR", help="write a capture of every case here")
    conform_.epilog = "Exit status: 0 every case passed or is a known deviation, 1 a case failed."
    conform_.set_defaults(handler=_cmd_conform)
    explain = sub.add_parser("explain", help="explain one rule")
    explain.add_argument("rule", metavar="RULE")
    explain.set_defaults(handler=_cmd_explain)

    capture = sub.add_parser(
        "capture", help="capture Linux-kernel MPTCP scenarios in network namespaces (root)"
    )
    capture.add_argument("scenarios", nargs="*", metavar="SCENARIO")
    capture.add_argument("--out", metavar="DIR")
    capture.add_argument("--list", action="store_true", help="list the scenarios")
    capture.epilog = "Exit status: 0 every capture shows its feature, 1 one does not, 2 unusable arguments."
    capture.set_defaults(handler=_cmd_capture)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace, TextIO], int] = args.handler
    try:
        return handler(args, out or sys.stdout)
    except (UsageError, MptcpError) as exc:
        print(f"mptcpspec: error: {exc}", file=sys.stderr)
    except BrokenPipeError:
        pass
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"mptcpspec: error: {where}{exc.strerror or exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("mptcpspec: interrupted", file=sys.stderr)
    return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())

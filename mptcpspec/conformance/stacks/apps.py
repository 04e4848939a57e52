"""The client and server programs the Linux capture scenarios run inside their network namespaces.

Run as ``python -m mptcpspec.conformance.stacks.apps server|client OPTIONS``.  The client sends ``--up``
bytes of a seeded pseudo-random stream and half-closes; the server reads to the end, checks the SHA-256
of what it got against the stream it expected, answers with ``--down`` bytes of a second stream and
closes; the client checks those in turn.  Sockets use ``IPPROTO_MPTCP`` (262) unless ``--tcp`` asks for
plain TCP (the fallback scenarios).

Each program reports on stdout, one JSON object a line: ``{"event": "listening"}`` (server ready),
``{"event": "paused", "sent": N}`` (client stopped at ``--pause-at``; it goes on after one line on
stdin), ``{"event": "aborted"}`` (closed abortively after ``--abort-after`` bytes, with ``SO_LINGER``
0), ``{"event": "reset"}`` (the peer reset the connection) and a final ``{"event": "done", ...}``.  The
exit status is 0 when the outcome is the one asked for: data verified, or a reset when
``--expect-reset`` was given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import socket
import struct
import sys
from collections.abc import Sequence

__all__ = ["IPPROTO_MPTCP", "main", "stream"]

IPPROTO_MPTCP = 262
_CHUNK = 16384


def stream(seed: int, size: int) -> bytes:
    """The ``size`` bytes of the pseudo-random stream numbered ``seed`` (same bytes on every host)."""
    return random.Random(seed).randbytes(size)


def _emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def _socket(address: str, tcp: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP if tcp else IPPROTO_MPTCP)


def _abort(sock: socket.socket) -> None:
    """Close with ``SO_LINGER`` 0: TCP sends a RST, MPTCP an MP_FASTCLOSE (RFC 8684 §3.5)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    _emit("aborted")


def _receive_all(sock: socket.socket, limit: int | None = None) -> bytes:
    """Read until end of stream, or until at least ``limit`` bytes when one is given."""
    parts: list[bytes] = []
    total = 0
    while limit is None or total < limit:
        chunk = sock.recv(_CHUNK)
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
    return b"".join(parts)


def _verdict(received: bytes, expected: bytes) -> dict[str, object]:
    ok = hashlib.sha256(received).digest() == hashlib.sha256(expected).digest()
    return {"received": len(received), "expected": len(expected), "ok": ok}


def _serve(args: argparse.Namespace) -> bool:
    """Accept one connection; the listener stays open meanwhile, as Linux takes MP_JOINs on it."""
    with _socket(args.bind, args.tcp) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((args.bind, args.port))
        listener.listen(4)
        _emit("listening")
        listener.settimeout(args.timeout)
        conn, _ = listener.accept()
        conn.settimeout(args.timeout)
        if args.abort_after is not None:
            _receive_all(conn, args.abort_after)
            _abort(conn)
            return True
        try:
            with conn:
                verdict = _verdict(_receive_all(conn), stream(args.seed, args.up))
                conn.sendall(stream(args.seed + 1, args.down))
        except TimeoutError:
            raise
        except OSError as exc:  # the peer reset the connection (a fast close, say)
            _emit("reset", error=str(exc))
            return False
    _emit("done", **verdict)
    return bool(verdict["ok"])


def _send(conn: socket.socket, data: bytes, pause_at: int | None) -> None:
    if pause_at is None:
        conn.sendall(data)
        return
    conn.sendall(data[:pause_at])
    _emit("paused", sent=pause_at)
    sys.stdin.readline()
    conn.sendall(data[pause_at:])


def _connect(args: argparse.Namespace) -> bool:
    conn = _socket(args.connect, args.tcp)
    conn.settimeout(args.timeout)
    try:
        conn.connect((args.connect, args.port))
        data = stream(args.seed, args.up)
        if args.abort_after is not None:
            conn.sendall(data[: args.abort_after])
            _abort(conn)
            return True
        _send(conn, data, args.pause_at)
        conn.shutdown(socket.SHUT_WR)
        verdict = _verdict(_receive_all(conn), stream(args.seed + 1, args.down))
    except TimeoutError:
        raise
    except OSError as exc:  # reset, broken pipe, or "not connected" once a reset has closed it
        _emit("reset", error=str(exc))
        return bool(args.expect_reset)
    finally:
        conn.close()
    _emit("done", **verdict)
    return bool(verdict["ok"]) and not args.expect_reset


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mptcpspec.conformance.stacks.apps")
    sub = parser.add_subparsers(dest="role", required=True)
    server = sub.add_parser("server", help="accept one connection, verify the upload, answer")
    server.add_argument("--bind", required=True)
    client = sub.add_parser("client", help="connect, upload, verify the answer")
    client.add_argument("--connect", required=True)
    client.add_argument("--pause-at", type=int, help="stop after this many bytes until a line on stdin")
    client.add_argument("--expect-reset", action="store_true", help="success means the peer reset us")
    for role in (server, client):
        role.add_argument("--port", type=int, default=8080)
        role.add_argument("--tcp", action="store_true", help="plain TCP instead of IPPROTO_MPTCP")
        role.add_argument("--up", type=int, default=100_000, help="bytes from client to server")
        role.add_argument("--down", type=int, default=20_000, help="bytes from server to client")
        role.add_argument("--seed", type=int, default=8684)
        role.add_argument("--abort-after", type=int, help="close with SO_LINGER 0 after this many bytes")
        role.add_argument("--timeout", type=float, default=20.0, help="socket timeout in seconds")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server or the client; exit status 0 when the outcome is the one asked for."""
    args = _parser().parse_args(argv)
    ok = _serve(args) if args.role == "server" else _connect(args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

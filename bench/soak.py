"""``python -m bench.soak``: every flood of issue 12, one after another, against a
``piinguin-server`` process while a normal client keeps calling it. Every normal call must
be answered, and the server's memory must stay bounded.

    python -m bench.soak                          # each flood 10 s: about two minutes
    python -m bench.soak --seconds 3 --only rapid-reset,tiny-frames
    make soak SOAK_ARGS="--seconds 5"

Everything goes to 127.0.0.1 and is bounded in count and in time (``bench.hostile``). The
server runs with short timeouts (idle 2 s, body 2 s, 300 connections) so that each flood
meets its limit within its window. Prints one table; exits 1 if a normal call failed or
took longer than ``--max-latency``, if the server's resident set grew by more than
``--max-growth`` MB, or if its log holds a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.hostile import (
    Peer,
    grpc_headers,
    held_streams,
    message,
    oversized_message,
    rapid_reset,
    tiny_frames,
)
from bench.procs import Cores, Processes, free_port, venv_script
from piinguin.client import LawfulBasis, PiinguinClient, PiinguinError, PiiRecord

SERVER_FLAGS = (
    "--insecure-no-auth",
    "--storage=memory",
    "--log-level=warning",
    "--max-message-bytes=1048576",
    "--max-connections=300",
    "--idle-timeout=2",
    "--body-timeout=2",
)
MB = 1024 * 1024


@dataclass
class Tally:
    """What the server answered the flood, by outcome."""

    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: str | None, count: int = 1) -> None:
        self.outcomes[outcome or "unanswered"] += count

    def describe(self) -> str:
        return ", ".join(f"{n} {what}" for what, n in self.outcomes.most_common())


Flood = Callable[[int, float, Tally], Awaitable[None]]


async def _rapid_reset(port: int, until: float, tally: Tally) -> None:
    while time.monotonic() < until:
        async with await Peer.connect(port) as peer:
            sent = await rapid_reset(peer, 60_000, seconds=until - time.monotonic())
            tally.add("resets sent", sent)
            if peer.goaway is not None:
                tally.add(f"goaway {peer.outcome(1)}".replace("goaway goaway", "goaway"))


async def _oversized(port: int, until: float, tally: Tally) -> None:
    while time.monotonic() < until:
        async with await Peer.connect(port) as peer:
            stream_id, _ = await oversized_message(
                peer, declared=2**32 - 1, send=64 * MB, seconds=until - time.monotonic()
            )
            tally.add(await peer.answer(stream_id))


async def _tiny_frames(port: int, until: float, tally: Tally) -> None:
    while time.monotonic() < until:
        async with await Peer.connect(port) as peer:
            stream_id = await tiny_frames(peer, 200_000, seconds=until - time.monotonic())
            tally.add(await peer.answer(stream_id))


BAD_REQUESTS: dict[str, tuple[list[tuple[str | bytes, str | bytes]], bytes | None]] = {
    "non-ascii header": ([*grpc_headers(), (b"x-note", "caf\u00e9".encode())], None),
    "70 KB header": ([*grpc_headers(), (b"x-big", b"v" * 70_000)], None),
    "no :path": ([h for h in grpc_headers() if h[0] != ":path"], None),
    "no :method": ([h for h in grpc_headers() if h[0] != ":method"], None),
    "truncated body": (grpc_headers(), message(b"abc", length=100)),
    "3-byte prefix": (grpc_headers(), b"\0\0\0"),
    "compressed": (grpc_headers(), message(b"\x0a\x00", flag=1)),
}


async def _bad_requests(port: int, until: float, tally: Tally) -> None:
    while time.monotonic() < until:
        async with await Peer.connect(port) as peer:
            for _ in range(10):
                streams = []
                for headers, body in BAD_REQUESTS.values():
                    stream_id = peer.headers(headers, end=body is None)
                    if body is not None:
                        peer.data(stream_id, body, end=True)
                    streams.append(stream_id)
                await peer.flush()
                for name, stream_id in zip(BAD_REQUESTS, streams, strict=True):
                    tally.add(f"{name}: {await peer.answer(stream_id)}")


async def _stream_limit(port: int, until: float, tally: Tally) -> None:
    while time.monotonic() < until:
        async with await Peer.connect(port) as peer:
            peer.ignore_stream_limit()
            streams = await held_streams(peer, 300)  # the limit is 100
            for stream_id in streams:
                tally.add(await peer.answer(stream_id))


async def _idle_connections(port: int, until: float, tally: Tally) -> None:
    peers: list[Peer] = []
    try:
        while time.monotonic() < until and len(peers) < 1000:
            peers += [await Peer.connect(port) for _ in range(50)]
            await asyncio.sleep(0.1)
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        for peer in peers:
            tally.add(peer.outcome(1) if peer.goaway is not None else "still open")
    finally:
        for peer in peers:
            await peer.close()


async def _held_requests(port: int, until: float, tally: Tally) -> None:
    while time.monotonic() < until:
        peers = [await Peer.connect(port) for _ in range(20)]
        try:
            held = [await held_streams(peer, 100) for peer in peers]
            for peer, streams in zip(peers, held, strict=True):
                for stream_id in streams:
                    tally.add(await peer.answer(stream_id))
        finally:
            for peer in peers:
                await peer.close()


async def _unread_pings(port: int, until: float, tally: Tally) -> None:
    """Raw PING frames, as fast as the socket takes them; the acknowledgements unread."""
    ping = b"\0\0\x08\x06\0\0\0\0\0" + b"\0" * 8
    while time.monotonic() < until:
        peer = await Peer.connect(port, read=False)
        sent = 0
        try:
            while time.monotonic() < until:
                peer.writer.write(ping * 4096)
                await asyncio.wait_for(peer.writer.drain(), max(0.01, until - time.monotonic()))
                sent += 4096
        except (OSError, TimeoutError):
            pass
        finally:
            tally.add("pings sent", sent)
            tally.add("connection cut" if peer.writer.is_closing() or sent else "open")
            await peer.close()


FLOODS: dict[str, Flood] = {
    "rapid-reset": _rapid_reset,
    "oversized-message": _oversized,
    "tiny-frames": _tiny_frames,
    "bad-requests": _bad_requests,
    "stream-limit": _stream_limit,
    "idle-connections": _idle_connections,
    "held-requests": _held_requests,
    "unread-pings": _unread_pings,
}


async def call_normally(port: int) -> None:
    """The normal client (``--normal PORT``, in a process of its own so that the floods'
    work on this side cannot delay it): a write, then a read of it, again and again; one
    line per pair: seconds taken, then ``ok`` or what went wrong."""
    async with PiinguinClient(f"127.0.0.1:{port}") as client:
        n = 0
        while True:
            n += 1
            key = f"soak-{n % 1000}"
            started = time.monotonic()
            outcome = "ok"
            try:
                async with asyncio.timeout(60):
                    await client.create_record(
                        PiiRecord(modified_value=key, original_value=f"value {n}")
                    )
                    record = await client.read_record(
                        key, basis=LawfulBasis.CONSENT, purpose="soak"
                    )
                if record.original_value != f"value {n}":
                    outcome = "wrong-value"
            except (PiinguinError, TimeoutError) as exc:
                outcome = type(exc).__name__
            print(f"{time.monotonic() - started:.6f} {outcome}", flush=True)
            await asyncio.sleep(0.01)


@dataclass
class Normal:
    """What the normal client's process reports, gathered as it comes."""

    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    async def gather(self, lines: asyncio.StreamReader) -> None:
        while line := await lines.readline():
            seconds, outcome = line.decode().split()
            self.latencies.append(float(seconds))
            if outcome != "ok":
                self.failures[outcome] += 1

    def take(self) -> tuple[list[float], Counter[str]]:
        taken = self.latencies, self.failures
        self.latencies, self.failures = [], Counter()
        return taken


def resident(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass
class Result:
    flood: str
    tally: str
    calls: int
    failed: dict[str, int]
    p99_ms: float
    max_ms: float
    peak_mb: float
    after_mb: float


async def soak(port: int, pid: int, names: Sequence[str], seconds: float) -> list[Result]:
    normal = Normal()
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.soak", "--normal", str(port), stdout=asyncio.subprocess.PIPE
    )
    assert client.stdout is not None
    gathering = asyncio.create_task(normal.gather(client.stdout))
    results = []
    try:
        await asyncio.sleep(1)
        start_rss = resident(pid)
        for name in names:
            normal.take()
            tally = Tally()
            peak = resident(pid)
            flood = asyncio.ensure_future(FLOODS[name](port, time.monotonic() + seconds, tally))
            while not flood.done():
                peak = max(peak, resident(pid))
                await asyncio.sleep(0.1)
            await flood
            await asyncio.sleep(2.5)  # the idle and body timeouts let the last ones go
            latencies, failures = normal.take()
            ordered = sorted(latencies) or [0.0]
            results.append(
                Result(
                    name,
                    tally.describe(),
                    len(latencies),
                    dict(failures),
                    1000 * ordered[int(0.99 * (len(ordered) - 1))],
                    1000 * ordered[-1],
                    (peak - start_rss) / MB,
                    (resident(pid) - start_rss) / MB,
                )
            )
            print(f"  {name}: {results[-1].calls} normal calls, {tally.describe()}", flush=True)
    finally:
        client.terminate()
        await client.wait()
        await gathering
    return results


def report(results: list[Result]) -> str:
    lines = [
        "| flood | normal calls | failed | p99 / max ms | RSS peak / after (MB over start) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.flood} | {r.calls} | {sum(r.failed.values()) or 0} | "
        f"{r.p99_ms:.0f} / {r.max_ms:.0f} | +{r.peak_mb:.1f} / +{r.after_mb:.1f} |"
        for r in results
    ]
    lines.append("")
    lines += [f"- {r.flood}: the server answered {r.tally}" for r in results]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per flood (default 10)")
    parser.add_argument(
        "--only", type=lambda text: [n.strip() for n in text.split(",") if n.strip()],
        help=f"floods to run: {', '.join(FLOODS)}",
    )  # fmt: skip
    parser.add_argument("--max-latency", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument("--max-growth", type=float, default=64.0, help="MB (default 64)")
    parser.add_argument("--normal", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - set(FLOODS)
    if unknown:
        parser.error(f"unknown floods {sorted(unknown)}; choose from {', '.join(FLOODS)}")
    if not 0 < args.seconds <= 600:
        parser.error("--seconds must be between 0 and 600")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.normal:
        with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
            asyncio.run(call_normally(args.normal))
        return 0
    names = args.only or list(FLOODS)
    cores = Cores.split(1)
    with tempfile.TemporaryDirectory(prefix="piinguin-soak-") as tmp, Processes(Path(tmp)) as procs:
        port = free_port()
        log_path = Path(tmp) / "server.log"
        with log_path.open("w") as log_file:
            server = procs.start(
                "server",
                [venv_script("piinguin-server"), f"--port={port}", *SERVER_FLAGS],
                cores=cores.server,
                stdout=log_file.fileno(),
            )
        procs.wait_serving(server, port)
        print(f"piinguin-server on 127.0.0.1:{port}, {cores.describe()}")
        print(f"{len(names)} floods of {args.seconds:g} s, a normal client calling throughout")
        results = asyncio.run(soak(port, server.pid, names, args.seconds))
        log = log_path.read_text(errors="replace")
    print("\n" + report(results) + "\n")
    problems = [
        f"{r.flood}: {sum(r.failed.values())} normal calls failed {r.failed}"
        for r in results
        if r.failed
    ]
    problems += [
        f"{r.flood}: a normal call took {r.max_ms:.0f} ms"
        for r in results
        if r.max_ms > 1000 * args.max_latency
    ]
    problems += [
        f"{r.flood}: RSS grew by {r.peak_mb:.0f} MB" for r in results if r.peak_mb > args.max_growth
    ]
    if "Traceback" in log or '"exception"' in log:
        problems.append("the server logged a traceback")
    print("\n".join(problems) or "every normal call was answered; memory stayed bounded")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

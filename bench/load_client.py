"""The fallback load, for when h2load is missing: one grpcio client process.

It sends a pre-encoded request (the same file h2load would send) as raw bytes, with
``--concurrency`` calls in flight on each of ``--connections`` HTTP/2 connections. The
harness starts several and synchronises them::

    python -m bench.load_client --port P --path /pkg.Service/Method --body FILE \\
        --token T --connections C --concurrency K --seconds S

It makes one call, prints ``ready``, waits for a line on stdin, runs for ``--seconds``
and prints ``{"calls": n, "failed": n, "bytes": n, "seconds": s}`` (``bytes``: response
messages, framed as on the wire).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import grpc


async def run(args: argparse.Namespace, message: bytes) -> dict[str, Any]:
    metadata = (("authorization", f"Bearer {args.token}"),)
    # grpcio shares connections between channels through a global subchannel pool; a
    # local pool per channel gives each its own, so a server's workers can each get some.
    channels = [
        grpc.aio.insecure_channel(
            f"127.0.0.1:{args.port}", options=[("grpc.use_local_subchannel_pool", 1)]
        )
        for _ in range(args.connections)
    ]
    try:
        return await _load(args, message, metadata, [c.unary_unary(args.path) for c in channels])
    finally:
        for channel in channels:
            await channel.close()


async def _load(
    args: argparse.Namespace,
    message: bytes,
    metadata: tuple[tuple[str, str], ...],
    methods: list[Any],
) -> dict[str, Any]:
    for call in methods:
        await call(message, metadata=metadata, timeout=10)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    counts = {"calls": 0, "failed": 0, "bytes": 0}
    start = time.perf_counter()
    deadline = start + args.seconds

    async def worker(call: Any) -> None:
        while time.perf_counter() < deadline:
            try:
                reply = await call(message, metadata=metadata, timeout=10)
            except grpc.aio.AioRpcError:
                counts["failed"] += 1
            else:
                counts["calls"] += 1
                counts["bytes"] += len(reply) + 5

    await asyncio.gather(*(worker(call) for call in methods for _ in range(args.concurrency)))
    return {**counts, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load_client")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32, help="per connection")
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    message = Path(args.body).read_bytes()[5:]  # the body file is framed, as h2load sends it
    print(json.dumps(asyncio.run(run(args, message))), flush=True)


if __name__ == "__main__":
    main()

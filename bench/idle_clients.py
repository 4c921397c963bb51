#!/usr/bin/env python3
"""Open N keep-alive client connections to HOST:PORT, send one request on each, read the response, then hold
them all idle for HOLD seconds. Prints 'ready N' once every connection is idle, so a caller can measure the
server's memory then. Loopback only."""
import asyncio
import sys


async def one(host, port, opened, failures):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        failures.append(1)
        return None
    writer.write(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    opened.append(1)
    return writer


async def main():
    host, port, count, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    if not (host.startswith("127.") or host == "::1" or host == "localhost"):
        sys.exit("loopback targets only")
    opened, failures, writers = [], [], []
    batch = 500
    for start in range(0, count, batch):
        results = await asyncio.gather(
            *(one(host, port, opened, failures) for _ in range(min(batch, count - start))),
            return_exceptions=True,
        )
        writers.extend(w for w in results if w is not None and not isinstance(w, BaseException))
    print(f"ready {len(writers)} failed {count - len(writers)}", flush=True)
    await asyncio.sleep(hold)
    for writer in writers:
        writer.close()


asyncio.run(main())

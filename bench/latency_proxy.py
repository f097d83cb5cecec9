#!/usr/bin/env python3
"""A TCP proxy that adds DELAY_MS to every chunk it forwards, in each direction: a stand-in for a
remote cache across a network (one request/response exchange costs about 2 x DELAY_MS).

usage: latency_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS     (127.0.0.1 on both sides)
"""
import asyncio, sys


async def pipe(reader, writer, delay):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    listen, target, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000

    async def handle(cr, cw):
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, sw, delay), pipe(sr, cw, delay))

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


asyncio.run(main())

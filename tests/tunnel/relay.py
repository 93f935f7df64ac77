"""A plain TCP relay standing in for the port-forward between backend and shadow, so a test can kill the
transport (SIGKILL this process) without touching either end. Usage: relay.py LISTEN_PORT TARGET_PORT."""
import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def handle(reader, writer, target):
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def main():
    listen, target = int(sys.argv[1]), int(sys.argv[2])
    server = await asyncio.start_server(lambda r, w: handle(r, w, target), "127.0.0.1", listen, reuse_address=True)
    print("relay listening", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())

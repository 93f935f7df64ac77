"""Opens N streams through the tunnel's reverse path to a local holder that keeps them open, then prints
the shadow's resident memory. Usage: streams.py REMOTE_PORT HOLDER_PORT N SHADOW_PID"""
import asyncio
import sys

remote, holder_port, count, pid = (int(a) for a in sys.argv[1:5])


def rss_mb(p):
    with open(f"/proc/{p}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def main():
    accepted = []
    all_in = asyncio.Event()

    async def hold(reader, writer):
        await reader.readexactly(1)
        accepted.append(writer)
        if len(accepted) == count:
            all_in.set()

    server = await asyncio.start_server(hold, "127.0.0.1", holder_port, backlog=4096)
    before = rss_mb(pid)
    conns = [await asyncio.open_connection("127.0.0.1", remote) for _ in range(count)]
    for _, w in conns:
        w.write(b"x")
    await asyncio.wait_for(all_in.wait(), 30)
    during = rss_mb(pid)
    print(f"shadow RSS: {before:.1f} MB idle, {during:.1f} MB with {count} open streams (aim <= 20 MB)")
    for _, w in conns:
        w.close()
    for w in accepted:
        w.close()
    server.close()


asyncio.run(main())

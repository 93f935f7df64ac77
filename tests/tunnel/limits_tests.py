"""Loopback tests of the bounds on work the cluster or a local client can make the tunnel's two ends do:
connections flooding a reverse listener, DNS queries at a nameserver that never answers, accept loops out
of descriptors. Usage: limits_tests.py BUILD_DIR TEST_NAME."""
import asyncio
import socket
import struct
import sys
import threading

from harness import Bed, free_port, run
from netutil import EchoServer, dns_query, socks5_connect
from wire import DNS_QUERY, DNS_REPLY, Tunnel

BUILD = sys.argv[1]
POD_MEMORY_LIMIT_KIB = 64 * 1024  # the shadow pod's memory limit (server/kube Objects.hpp)
BUSY, TIMEOUT = 7, 10  # RESET/DNS_REPLY codes (TUNNEL.md)


async def hold(port, count):
    """Opens `count` connections to 127.0.0.1:port and sends each a line. Returns (carried, refused):
    connections that echo their line back (held open) and ones the agent reset at once."""
    async def one(i):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"line %d\n" % i)
            await writer.drain()
            echoed = await asyncio.wait_for(reader.readline(), 20)
            if echoed == b"line %d\n" % i:
                return writer
            writer.close()
        except (ConnectionError, OSError):
            pass
        return None
    results = await asyncio.gather(*(one(i) for i in range(count)))
    carried = [w for w in results if w is not None]
    return carried, count - len(carried)


def test_a_flood_of_cluster_connections_leaves_outbound_streams_free():
    """Two listeners each flooded with 200 idle connections: each listener carries at most its cap, the
    agent's own streams stop at their budget, and the developer's outbound SOCKS connection still works,
    because the streams the client opens have a budget of their own."""
    async def body():
        echo = await EchoServer().start()
        with Bed(BUILD) as bed:
            shadow = bed.shadow("--max-listener-connections", "150", "--max-agent-streams", "250")
            first, second, socks = free_port(), free_port(), free_port()
            client = bed.client(shadow.tunnel_port, "--reverse", f"{first}:{echo.port}",
                                "--reverse", f"{second}:{echo.port}", "--socks", str(socks))
            client.wait_line(rf'listener port={first} code="ok"')
            client.wait_line(rf'listener port={second} code="ok"')
            carried_first, refused_first = await hold(first, 200)
            assert (len(carried_first), refused_first) == (150, 50)
            shadow.wait_line(rf"event=listener_full port={first}")
            carried_second, refused_second = await hold(second, 200)
            assert (len(carried_second), refused_second) == (100, 100)  # 250 agent streams in all
            reader, writer = await socks5_connect(socks, "127.0.0.1", echo.port)
            writer.write(b"outbound\n")
            assert await asyncio.wait_for(reader.readline(), 15) == b"outbound\n"
            writer.close()
            for w in carried_first + carried_second:
                w.close()
    run(body())


def test_dns_queries_at_a_silent_nameserver_stay_within_the_pod_memory():
    """10,000 DNS queries sent at once through the tunnel to a nameserver that never answers: past
    --max-dns-in-flight they are refused at once (Busy), the rest time out, every one is answered, and the
    agent's peak memory stays under its pod's limit."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # bound, never read: queries vanish as at a dead nameserver
    with Bed(BUILD) as bed:
        shadow = bed.shadow("--dns-server", f"127.0.0.1:{silent.getsockname()[1]}", "--dns-timeout", "1s")
        tunnel = Tunnel(shadow.tunnel_port, bed.token)
        queries = 10000
        replies = {}

        def read_replies():
            while len(replies) < queries:
                kind, ident, payload = tunnel.read()
                if kind == DNS_REPLY:
                    replies[ident] = struct.unpack(">I", payload[:4])[0]

        reader = threading.Thread(target=read_replies, daemon=True)
        reader.start()
        for i in range(1, queries + 1):
            tunnel.send(DNS_QUERY, i, dns_query(f"q{i}.example", qid=i & 0xFFFF))
        reader.join(30)
        assert len(replies) == queries, f"{len(replies)} of {queries} queries answered"
        codes = sorted(set(replies.values()))
        assert codes == [BUSY, TIMEOUT], codes
        busy = sum(1 for code in replies.values() if code == BUSY)
        peak = shadow.peak_rss_kib()
        print(f"{busy} queries refused as busy; shadow peak RSS {peak} KiB (pod limit {POD_MEMORY_LIMIT_KIB} KiB)")
        assert busy >= queries - 2 * 256  # the in-flight bound held
        assert peak < POD_MEMORY_LIMIT_KIB
        assert shadow.count(r"event=dns_busy") >= 1
        tunnel.close()
    silent.close()


def accept_loop_pauses(start, port_of, proc_name):
    """Runs a server under a descriptor limit so low that accepting fails (EMFILE), holds connections
    waiting in its backlog, and checks that the loop pauses instead of spinning: after five pauses (50 ms
    doubling, over 1.5 s) the process has used a small fraction of that in CPU."""
    async def body():
        with Bed(BUILD) as bed:
            proc = start(bed)
            port = port_of(proc)
            held = []
            for _ in range(8):
                held.append(await asyncio.open_connection("127.0.0.1", port))
            proc.wait_count(r"event=accept_failed .*retry_ms=", 5, timeout=15)
            cpu = proc.cpu_seconds()
            print(f"{proc_name}: {proc.count('event=accept_failed')} paused accepts, {cpu:.2f} s CPU in all")
            assert cpu < 0.5, f"{proc_name} spun on EMFILE: {cpu:.2f} s of CPU"
            for _, writer in held:
                writer.close()
    run(body())


def test_the_agent_pauses_its_accept_loops_when_out_of_descriptors():
    def start(bed):
        return bed.shadow(wrapper=("prlimit", "--nofile=12:12", "--"))
    accept_loop_pauses(start, lambda shadow: shadow.ready_port, "tether-shadow")


def test_the_local_proxies_pause_their_accept_loops_when_out_of_descriptors():
    def start(bed):
        shadow = bed.shadow()
        socks = free_port()
        client = bed.client(shadow.tunnel_port, "--socks", str(socks), wrapper=("prlimit", "--nofile=14:14", "--"))
        client.wait_line(r"state=connected")
        client.socks = socks
        return client
    accept_loop_pauses(start, lambda client: client.socks, "tether-tunnel")


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    TESTS[sys.argv[2]]()
    print(f"PASS {sys.argv[2]}")

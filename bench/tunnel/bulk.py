"""Bulk download table: the MEDIAN of ROUNDS curl downloads per row, the rows interleaved, so that the noise
of a shared machine hits every row alike instead of whichever row ran during a busy second.

Usage: bulk.py ROUNDS URL_PATH EXPECTED_BYTES ROW...
  ROW is NAME:PORT or NAME:PORT:PID,PID,... (the PIDs' CPU time is summed over that row's downloads).
Each round starts one row later than the previous (direct, ssh-R, tether; then ssh-R, tether, direct; ...),
so no row always runs first or right after another. A download that fails or arrives short counts as a
failure, never as a fast sample. The last row is compared with every other one: the ratio of the medians,
and the spread of the ratios within a round (rows of one round share the machine's state). Prints only;
exits 0.

With LOAD_PIDS=PID,... (the HTTP server's processes) it also measures the load generators: that server plus
curl, whose CPU is the children's usage of this process. They share the cores with the tunnel, so a row whose
ends spend E s/GiB and whose load spends L s/GiB can move at most CORES / (E + L) GiB/s with every core busy.
That ceiling is printed per row, and its ratio between rows, so a reader sees how far the measured ratio is
from what the two paths' costs allow on this machine.
"""
import os
import resource
import statistics
import subprocess
import sys

MIB = 1024 * 1024


def cpu_seconds(pids):
    """CPU time of the processes, every thread, in seconds. schedstat counts nanoseconds; /proc/PID/stat's
    clock ticks are too coarse for downloads that last a few dozen milliseconds."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:  # a thread that ended since the listing drops out alone
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, IndexError, ValueError):
                pass
    return total / 1e9


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def curl_fixed_cost(port, path):
    """The CPU one curl run costs whatever it downloads (start-up, connect, exit): ~20 ms here, while a
    100 MiB download on the direct row takes ~60 ms. The median of three one-byte range requests; it is
    taken off every download so that load_cpu is the cost per byte."""
    costs = []
    for _ in range(3):
        before = children_cpu_seconds()
        try:
            subprocess.run(["curl", "-s", "-o", "/dev/null", "-r", "0-0", "--max-time", "10",
                            f"http://127.0.0.1:{port}{path}"], capture_output=True, timeout=20)
        except subprocess.TimeoutExpired:
            return 0.0  # then load_cpu includes curl's start-up, as it did before this was measured
        costs.append(children_cpu_seconds() - before)
    return statistics.median(costs)


def download(port, path, expected):
    """Seconds for one download, or None when it failed or arrived short."""
    try:
        out = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "--max-time", "120",
             "-w", "%{time_total} %{size_download} %{http_code}", f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, timeout=130).stdout.split()
    except subprocess.TimeoutExpired:
        return None
    if len(out) != 3 or out[2] != "200" or int(out[1]) != expected or float(out[0]) <= 0:
        return None
    return float(out[0])


def main():
    rounds, path, expected = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    rows = []
    for spec in sys.argv[4:]:
        parts = spec.split(":")
        pids = [int(p) for p in parts[2].split(",")] if len(parts) > 2 and parts[2] else []
        rows.append({"name": parts[0], "port": int(parts[1]), "pids": pids, "mbs": [], "fails": 0, "ends": 0.0,
                     "load": 0.0})
    load_pids = [int(p) for p in os.environ.get("LOAD_PIDS", "").split(",") if p]
    fixed = curl_fixed_cost(rows[0]["port"], path) if load_pids else 0.0
    per_round = []  # {name: MB/s} of each round, for the paired ratio
    for r in range(rounds):
        this_round = {}
        for i in range(len(rows)):
            row = rows[(r + i) % len(rows)]
            before = cpu_seconds(row["pids"])
            load_before = cpu_seconds(load_pids) + children_cpu_seconds()
            t = download(row["port"], path, expected)
            if t is None:
                row["fails"] += 1
                continue
            # Only downloads that count: the CPU is divided by the bytes of the successful ones.
            row["ends"] += cpu_seconds(row["pids"]) - before
            row["load"] += max(0.0, cpu_seconds(load_pids) + children_cpu_seconds() - load_before - fixed)
            row["mbs"].append(expected / MIB / t)
            this_round[row["name"]] = row["mbs"][-1]
        per_round.append(this_round)

    print(f"bulk: {expected // MIB} MiB download, median of {rounds} per row, rows interleaved (MB/s = MiB/s)")
    print(f"{'path':<12} {'median':>8} {'min':>8} {'max':>8} {'failed':>7}  {'ends_cpu':>8}  {'load_cpu':>8}  "
          "(CPU s/GiB: the tunnel's two ends; nginx + curl)")
    medians = {}
    ceilings = {}
    cores = len(os.sched_getaffinity(0))  # the cores this run may use, not the host's
    for row in rows:
        if row["mbs"]:
            medians[row["name"]] = statistics.median(row["mbs"])
            stats = f"{medians[row['name']]:8.0f} {min(row['mbs']):8.0f} {max(row['mbs']):8.0f}"
        else:
            stats = f"{'n/a':>8} {'n/a':>8} {'n/a':>8}"
        ends, load = "", ""
        if row["mbs"]:
            gib = len(row["mbs"]) * expected / (1024 * MIB)
            ends_per_gib = row["ends"] / gib if row["pids"] else 0.0
            if row["pids"]:
                ends = f"{ends_per_gib:.2f}"
            if load_pids:
                load = f"{row['load'] / gib:.2f}"
                if ends_per_gib + row["load"] / gib > 0:
                    ceilings[row["name"]] = cores * 1024 / (ends_per_gib + row["load"] / gib)
        print(f"{row['name']:<12} {stats} {row['fails']:>7}  {ends:>8}  {load:>8}")

    names = [row["name"] for row in rows]
    last = names[-1]
    for base in reversed(names[:-1]):
        if base in medians and last in medians:
            paired = [x[last] / x[base] for x in per_round if last in x and base in x]
            print(f"{last} / {base}: {medians[last] / medians[base]:.2f}x (medians); per-round ratios "
                  f"{min(paired):.2f}-{max(paired):.2f}, median {statistics.median(paired):.2f}x")
    if ceilings:
        # What each row's measured costs allow if all the cores were busy all the time; a row below its
        # ceiling lost time to idle cores (scheduling), not to its own work.
        print(f"CPU ceiling on {cores} core(s), MiB/s = cores / (ends + load) per GiB, "
              "and how much of it each row used:")
        print("  " + ", ".join(f"{name} {ceiling:.0f} ({medians.get(name, 0) / ceiling:.0%})"
                               for name, ceiling in ceilings.items()))
        for base in reversed(names[:-1]):
            if base in ceilings and last in ceilings and base != "direct":
                print(f"  {last} / {base} allowed by the costs alone: {ceilings[last] / ceilings[base]:.2f}x")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a benchmark prints its trouble and never fails the caller
        print(f"bench/tunnel bulk: {e!r}")

"""Bulk download table: the MEDIAN of ROUNDS curl downloads per row, the rows interleaved, so that the noise
of a shared machine hits every row alike instead of whichever row ran during a busy second.

Usage: bulk.py ROUNDS URL_PATH EXPECTED_BYTES ROW...
  ROW is NAME:PORT or NAME:PORT:PID,PID,... (the PIDs' CPU time is summed over that row's downloads).
Each round starts one row later than the previous (direct, ssh-R, tether; then ssh-R, tether, direct; ...),
so no row always runs first or right after another. A download that fails or arrives short counts as a
failure, never as a fast sample. The last row is compared with every other one: the ratio of the medians,
and the spread of the ratios within a round (rows of one round share the machine's state). Prints only;
exits 0.
"""
import os
import statistics
import subprocess
import sys

MIB = 1024 * 1024


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total


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
        rows.append({"name": parts[0], "port": int(parts[1]), "pids": pids, "mbs": [], "fails": 0, "ticks": 0})
    per_round = []  # {name: MB/s} of each round, for the paired ratio
    for r in range(rounds):
        this_round = {}
        for i in range(len(rows)):
            row = rows[(r + i) % len(rows)]
            before = cpu_ticks(row["pids"])
            t = download(row["port"], path, expected)
            row["ticks"] += cpu_ticks(row["pids"]) - before
            if t is None:
                row["fails"] += 1
                continue
            row["mbs"].append(expected / MIB / t)
            this_round[row["name"]] = row["mbs"][-1]
        per_round.append(this_round)

    tick = os.sysconf("SC_CLK_TCK")
    print(f"bulk: {expected // MIB} MiB download, median of {rounds} per row, rows interleaved (MB/s = MiB/s)")
    print(f"{'path':<12} {'median':>8} {'min':>8} {'max':>8} {'failed':>7}  cpu_s_per_GiB (the tunnel's two ends)")
    medians = {}
    for row in rows:
        if row["mbs"]:
            medians[row["name"]] = statistics.median(row["mbs"])
            stats = f"{medians[row['name']]:8.0f} {min(row['mbs']):8.0f} {max(row['mbs']):8.0f}"
        else:
            stats = f"{'n/a':>8} {'n/a':>8} {'n/a':>8}"
        cpu = ""
        if row["pids"] and row["mbs"]:
            gib = len(row["mbs"]) * expected / (1024 * MIB)
            cpu = f"{row['ticks'] / tick / gib:.2f}"
        print(f"{row['name']:<12} {stats} {row['fails']:>7}  {cpu}")

    names = [row["name"] for row in rows]
    last = names[-1]
    for base in reversed(names[:-1]):
        if base in medians and last in medians:
            paired = [x[last] / x[base] for x in per_round if last in x and base in x]
            print(f"{last} / {base}: {medians[last] / medians[base]:.2f}x (medians); per-round ratios "
                  f"{min(paired):.2f}-{max(paired):.2f}, median {statistics.median(paired):.2f}x")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a benchmark prints its trouble and never fails the caller
        print(f"bench/tunnel bulk: {e!r}")

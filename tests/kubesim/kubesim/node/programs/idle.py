"""kubesim/toolbox and kubesim/pause: a process that does nothing until it is told to stop.

The toolbox pod exists so that `kubectl exec` (and tests) can run curl or getent inside a pod's
network namespace; the pause pod just holds a namespace. Both only need a well-behaved
long-running process that exits 0 on SIGTERM.
"""

import signal
import sys


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "idle"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{name}: ready", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()

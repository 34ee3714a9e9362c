"""Run a command and report its wall time and peak RSS, from a process that is itself small.

    python -m bench._measure OUT ERR -- COMMAND…

prints {"wall_s", "rss_mb", "returncode"} as JSON. A child's peak RSS counts
the memory it inherits from its parent when forked, so the benchmark's own
(large) process must not be the direct parent of what it measures; this
launcher imports nothing but the standard library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> int:
    out, err, separator, *command = sys.argv[1:]
    assert separator == "--" and command, __doc__
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"wall_s": wall, "rss_mb": usage.ru_maxrss / 1024, "returncode": code}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A Redis Sentinel failover mid-run (issue 16): real `resimply serve` + two `arq`
workers on one master, one replica and three sentinels (`down-after-milliseconds`
1000), tasks in flight and SSE/WebSocket watchers attached; the master SIGKILLed,
then (a fresh group) hung with `DEBUG SLEEP`. The scenario is tests/failover.py.

Prints per fault: tasks accepted, completed, lost (accepted, unknown on the new
master); watchers resumed; seconds from the fault to the replica's promotion and
without service (last accepted submission before the fault to the first after).

    PYTHONPATH=$PWD .venv/bin/python -m bench.chaos failover
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from resimply.sample import SAMPLE_VIDEO
from tests.failover import FAULTS, failover_mid_run, ha_service
from tests.sentinels import SentinelGroup
from tests.servers import GatedVideoServer


def run(fault: str, tmp: Path) -> None:
    group = SentinelGroup(tmp / "redis")
    gated_video = GatedVideoServer(SAMPLE_VIDEO)
    svc = ha_service(group, tmp)
    try:
        group.start()
        svc.start(workers=2)
        result = asyncio.run(failover_mid_run(group, svc, gated_video, tmp, fault))
        print(result.report(), flush=True)
    except BaseException:
        print(svc.logs()[-5000:])
        print(group.logs())
        raise
    finally:
        svc.stop()
        gated_video.close()
        group.stop()


def main() -> None:
    for fault in FAULTS:
        with tempfile.TemporaryDirectory(prefix="chaos-failover-") as tmp:
            run(fault, Path(tmp))


if __name__ == "__main__":
    main()

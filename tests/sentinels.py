"""A Redis Sentinel group for tests: one master, one replica and three sentinels,
all real `redis-server` processes on free ports, with a failover a test can
cause (SIGKILL the master, or `DEBUG SLEEP` it) and watch happen."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.servers import free_port, wait_for

MASTER_NAME = "resimply"
# Sentinel takes the master for down after this long without an answer, then two
# of the three (the quorum) agree and one of them promotes the replica.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


class Node:
    def __init__(self, binary: str, workdir: Path, name: str, args: list[str]) -> None:
        self.port = free_port()
        self.dir = workdir / name
        self.dir.mkdir(parents=True)
        self.args = [binary, *args]
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, extra: list[str]) -> None:
        where = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        self.proc = subprocess.Popen(
            [*self.args, *extra, *where, "--logfile", str(self.dir / "log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log()
            return bool(self.client().ping())

        wait_for(ready, what=self.name)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)

    def log(self) -> str:
        path = self.dir / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen one would never stop
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class SentinelGroup:
    """Master + replica with AOF (as in production) and three sentinels, quorum 2."""

    def __init__(self, workdir: Path) -> None:
        binary = redis_binary()
        data = ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
        data += ["--enable-debug-command", "local"]  # DEBUG SLEEP, from this host only
        self.nodes = [Node(binary, workdir, f"redis{n}", data) for n in range(2)]
        self.sentinels = [Node(binary, workdir, f"sentinel{n}", []) for n in range(3)]
        self.master, self.replica = self.nodes
        self._sleeper: socket.socket | None = None

    def start(self) -> None:
        self.master.start(["--loglevel", "notice"])
        self.replica.start(["--replicaof", "127.0.0.1", str(self.master.port)])
        wait_for(self._replica_in_sync, what="replica in sync")
        for sentinel in self.sentinels:
            config = sentinel.dir / "sentinel.conf"  # Sentinel rewrites it: its own file
            config.write_text(
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master.port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            sentinel.args.insert(1, str(config))
            sentinel.start(["--sentinel"])
        wait_for(self._sentinels_see_everyone, timeout=30, what="sentinels to find each other")

    def _replica_in_sync(self) -> bool:
        info = self.replica.client().info("replication")
        return bool(info.get("master_link_status") == "up")

    def _sentinels_see_everyone(self) -> bool:
        for sentinel in self.sentinels:
            state = sentinel.client().sentinel_master(MASTER_NAME)
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                return False
        return True

    @property
    def env(self) -> dict[str, str]:
        """The service's settings: sentinels, and a REDIS_URL whose host is not used."""
        return {
            "REDIS_URL": "redis://unused-with-sentinels:6379/0",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
        }

    def master_port(self) -> int:
        _host, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(MASTER_NAME)
        return int(port)

    def kill_master(self) -> None:
        assert self.master.proc is not None
        self.master.proc.send_signal(signal.SIGKILL)
        self.master.proc.wait(10)

    def freeze_master(self) -> None:
        """SIGSTOP: the master hangs for good (a host cut off from the network):
        connections stay open and nothing is ever answered."""
        assert self.master.proc is not None
        self.master.proc.send_signal(signal.SIGSTOP)

    def hang_master(self, seconds: float) -> None:
        """`DEBUG SLEEP`: the master stops answering (connections stay open) for
        `seconds`, then goes on — by then a replica, once Sentinel has demoted it."""
        # Sent without waiting for the answer, which comes only after the sleep.
        self._sleeper = socket.create_connection(("127.0.0.1", self.master.port), timeout=2)
        self._sleeper.sendall(f"DEBUG SLEEP {seconds}\r\n".encode())

    def wait_promoted(self, timeout: float = 30) -> float:
        """Wait until the sentinels name the replica as master; returns when."""
        old = self.master.port
        wait_for(lambda: self.master_port() != old, timeout=timeout, what="failover")
        return time.monotonic()

    def stop(self) -> None:
        if self._sleeper is not None:
            self._sleeper.close()
        for node in [*self.sentinels, *self.nodes]:
            node.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {n.name}\n{n.log()[-3000:]}" for n in [*self.nodes, *self.sentinels])

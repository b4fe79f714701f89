"""A bounded HTTP load from wrk (Debian's package ``wrk``) on the servers under test:
keep-alive connections, one fixed POST body, a fixed duration; the latency histogram comes
back whole, so rounds merge.

wrk rather than an httpx loop: on this 2-core machine an httpx.Client spends about 1 ms
of CPU per request, more than the server under test, so the client would be what is
measured. wrk's event loop costs a few microseconds per request.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# done() prints the totals and wrk's whole latency histogram: latency(i) is the i-th of its
# #latency (microseconds, count) pairs.
LUA = """
wrk.method = "POST"
wrk.body = {body}
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("TOTAL %d %d %d %d\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout))
  for i = 1, #latency do
    io.write(string.format("H %d %d\\n", latency(i)))
  end
end
"""


@dataclass(slots=True)
class Load:
    """What wrk measured: requests answered, seconds, and latency counts per microsecond.

    The histogram holds somewhat more samples than requests: wrk 4 adds samples for
    coordinated omission (stats_correct) before done(), and its own percentiles use them.
    """

    requests: int
    seconds: float
    latency_us: Counter[int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, p: float) -> float:
        """wrk's own rule: the first bucket whose running count reaches p% of all."""
        total = sum(self.latency_us.values())
        rank = round(p / 100 * total + 0.5)
        seen = 0
        for us in sorted(self.latency_us):
            seen += self.latency_us[us]
            if seen >= rank:
                return us / 1000
        raise ValueError("no latencies recorded")


@dataclass(slots=True)
class Served:
    """One server under test: where to POST, with what script, the process serving it, and
    what its loads measured (by mode) and the CPU seconds it spent on them."""

    name: str
    url: str
    script: Path
    server_pid: int
    loads: dict[str, list[Load]] = field(default_factory=lambda: {"seq": [], "conc": []})
    cpu_s: dict[str, float] = field(default_factory=lambda: {"seq": 0.0, "conc": 0.0})


def merged(loads: Iterable[Load]) -> Load:
    """All rounds as one: summed requests, seconds and histograms."""
    total = Load(0, 0.0, Counter())
    for load in loads:
        total.requests += load.requests
        total.seconds += load.seconds
        total.latency_us.update(load.latency_us)
    return total


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not on PATH: install it with `apt-get install -y wrk`.")
    return found


def wrk_version() -> str:
    proc = subprocess.run([wrk_binary(), "--version"], capture_output=True, text=True)
    return (proc.stdout + proc.stderr).split(" [")[0].strip()


def write_script(path: Path, body: bytes, headers: Mapping[str, str]) -> Path:
    lines = [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    # JSON string literals are valid Lua string literals for ASCII text
    path.write_text(LUA.format(body=json.dumps(body.decode()), headers="\n".join(lines)))
    return path


def run_wrk(url: str, script: Path, *, connections: int, seconds: float) -> Load:
    """One wrk thread, ``connections`` keep-alive connections; raises on any failed request."""
    argv = [wrk_binary(), "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        )
    load, failed = Load(0, 0.0, Counter()), None
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["TOTAL"]:
            load.requests, load.seconds = int(parts[1]), int(parts[2]) / 1e6
            failed = int(parts[3]) + int(parts[4])
        elif parts[:1] == ["H"]:
            load.latency_us[int(parts[1])] += int(parts[2])
    if failed is None or load.requests == 0:
        raise RuntimeError(f"wrk printed no totals for {url}:\n{proc.stdout}{proc.stderr}")
    if failed:
        raise RuntimeError(f"{failed} of {load.requests} requests to {url} failed:\n{proc.stdout}")
    return load

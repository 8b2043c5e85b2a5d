"""Shared by the benchmarks: run a child process, time it, take its peak RSS; 3 runs -> min/median/max; both logs."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

RUNS = 3


def logs(which: str, events: int) -> dict[str, Path]:
    """The project's generated log ("gen") and/or the wide one ("wide"), generated once and cached."""
    import _gen
    import _gen_wide

    found: dict[str, Path] = {}
    if which in ("gen", "both"):
        found["gen"] = _gen.cached_log(events)
    if which in ("wide", "both"):
        found["wide"] = _gen_wide.cached_log(events)
    return found


def timed_child(argv: list[str], **kw: Any) -> dict[str, Any]:
    """Wall seconds, peak RSS (MB) and stdout of one child process (Popen, then wait4 for its rusage).

    Output goes to temporary files, not pipes: a child printing a big state never blocks on a full pipe."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, **kw)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv[:6]))} failed ({child.returncode}): {stderr.decode(errors='replace')[-800:]}")
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "stdout": stdout}


def spread(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 4), "median": round(statistics.median(values), 4), "max": round(max(values), 4)}


def load_note() -> dict[str, Any]:
    """The machine's load while measuring (it is shared): 1/5/15-minute load averages and the cores."""
    one, five, fifteen = os.getloadavg()
    return {"loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)], "cpus": os.cpu_count()}


def baseline_wc(path: Path) -> float:
    """Seconds for `wc -l` on the log: what merely reading it costs on this machine right now."""
    started = time.perf_counter()
    subprocess.run(["wc", "-l", str(path)], check=True, capture_output=True)
    return time.perf_counter() - started

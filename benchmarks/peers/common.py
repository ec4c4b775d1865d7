"""What every comparison of benchmarks/bench_peers.py shares: where things are, children, alternation."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_peers.py"  # children run as `SCRIPT --child NAME ARGS...`
PEERS_PYTHON = Path(os.environ.get("FOTOFECHA_PEERS_PYTHON", "/work/peers/venv/bin/python"))
TMP = Path(os.environ.get("TMPDIR", "/tmp"))


def cpu_seconds() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def jpeg_files(folder: str) -> list[str]:
    return sorted(str(p) for p in Path(folder).rglob("*.jpg"))


def run_child(python: Path, name: str, *args) -> dict:
    """One measured run in a fresh interpreter; {"error": ...} when it fails (the peer is missing, say)."""
    command = [str(python), str(SCRIPT), "--child", name, *(json.dumps(a) for a in args)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def importable(python: Path, module: str) -> str | None:
    """None when `module` imports in `python`, else why not."""
    if not python.exists():
        return f"no interpreter at {python}"
    done = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["import failed"])[-1]


def alternate(rounds: int, runs: dict[str, callable]) -> dict[str, list[dict]]:
    """Each run once per round, the order reversed every other round."""
    names = list(runs)
    out: dict[str, list[dict]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            out[name].append(runs[name]())
    return out


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def machine_line() -> str:
    sys.path.insert(0, str(ROOT))
    from benchmarks.photos import machine

    return machine()

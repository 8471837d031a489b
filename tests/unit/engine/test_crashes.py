"""A SIGKILL at any durable step of a start never stops the queue: after a restart the engine
starts, queue.json is valid, every PRD is there, no job ran twice and everything completes.

The engine runs as a real process (tests/crashing_engine.py) that kills itself right after
its N-th fsync or mkdir; N goes over every such step of a whole run of two jobs started together.
"""

import concurrent.futures
import json
import subprocess
import sys
from pathlib import Path

from tests.support import make_home, processes_with_marker, write_prd

CRASHING_ENGINE = Path(__file__).resolve().parents[2] / "crashing_engine.py"
PRDS = {
    "01-first.md": '@fake text "first"\n',
    "01-second.md": '@fake write {"file_path": "second.txt", "content": "2"}\n',
}


def engine(limit: int, home, environ, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CRASHING_ENGINE), str(limit), "run", "--until-idle", "--home", str(home.root)],
        env=environ, capture_output=True, text=True, timeout=timeout,
    )


def fresh(root: Path):
    home, environ, _ = make_home(root)
    for name, body in PRDS.items():
        write_prd(home, name, body)
    environ["FAKE_CLAUDE_RUNS"] = str(root / "agent-runs.txt")
    return home, environ


def crash_then_finish(root: Path, limit: int) -> str | None:
    """What went wrong when the engine is killed after its `limit`-th step and started again, or None."""
    home, environ = fresh(root)
    crashed = engine(limit, home, environ)
    if crashed.returncode not in (0, -9):
        return f"step {limit}: the crashing engine failed on its own: {crashed.stderr[-2000:]}"
    if home.queue.exists():
        for job in json.loads(home.queue.read_text())["jobs"]:
            # Durable order: a run is on record only once its files exist.
            if job["status"] == "running" and not Path(job["current"]["logPath"]).exists():
                return f"step {limit}: {job['slug']} is recorded running but its run's files do not exist"
    again = engine(0, home, environ)
    if again.returncode != 0:
        return f"step {limit}: the restarted engine exited {again.returncode}: {again.stderr[-2000:]}"
    try:
        saved = json.loads(home.queue.read_text())
    except ValueError as exc:
        return f"step {limit}: queue.json is not valid JSON ({exc})"
    statuses = {job["slug"]: job["status"] for job in saved["jobs"]}
    if statuses != {"01-first": "completed", "01-second": "completed"}:
        return f"step {limit}: not everything completed: {statuses}\n{again.stderr[-2000:]}"
    for name, body in PRDS.items():
        if (home.prds / name).read_text() != body:
            return f"step {limit}: {name} changed or vanished"
    markers = (root / "agent-runs.txt").read_text().split()
    slugs = [marker.split("/", 1)[1] for marker in markers]
    if sorted(slugs) != ["01-first", "01-second"]:
        return f"step {limit}: the agents ran {sorted(slugs)}, not each job once"
    survivors = [marker for marker in markers if processes_with_marker(marker)]
    if survivors:
        return f"step {limit}: processes of {survivors} survived their runs"
    return None


def test_a_sigkill_after_any_durable_step_of_a_run_never_stops_the_queue(tmp_path):
    home, environ = fresh(tmp_path / "count")
    clean = engine(0, home, environ)
    assert clean.returncode == 0, clean.stderr
    steps = int(clean.stderr.rsplit("durable steps: ", 1)[1])
    assert steps > 20
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        problems = pool.map(lambda limit: crash_then_finish(tmp_path / f"crash-{limit}", limit), range(1, steps + 1))
        found = [problem for problem in problems if problem]
    assert not found, "\n\n".join(found)

"""docs/BEHAVIOUR.md section 14: a drained queue writes its report and says so."""

import datetime as dt
import json
import stat
from pathlib import Path

from app.core.queue import Status
from app.engine import reports
from tests.support import make_home

from .harness import Running, run, until


@run
async def test_a_drained_queue_writes_one_report_per_drain_and_announces_it(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("01-hello.md", '@fake text "hi"\n@fake result {"text": "Added the greeting page."}\n')
        written = await until(lambda: r.named("report.written"))
        assert r.status("01-hello") is Status.COMPLETED
        first = written[0]
        assert (first["completed"], first["failed"], first["needs_review"], first["runs"]) == (1, 0, 0, 1)
        reports = list(r.home.reports.iterdir())
        assert [str(path) for path in reports] == [first["path"]]
        text = reports[0].read_text()
        assert "### 01-hello (01-hello)" in text and "> Added the greeting page." in text
        assert stat.S_IMODE(reports[0].stat().st_mode) == 0o600
        meta = json.loads((r.home.run_dir(r.job("01-hello").last.run_id) / "01-hello.meta.json").read_text())
        assert meta["resultText"] == "Added the greeting page."

        r.prd("02-again.md", '@fake text "more"\n')
        await until(lambda: len(r.named("report.written")) == 2)
        assert r.status("02-again") is Status.COMPLETED
        second = r.named("report.written")[1]
        assert second["path"] != first["path"] and second["runs"] == 1
        text = Path(second["path"]).read_text()
        assert "02-again" in text and "01-hello" not in text
        assert len(list(r.home.reports.iterdir())) == 2


@run
async def test_an_engine_started_on_a_finished_queue_writes_no_report_of_its_own(tmp_path):
    async with Running(tmp_path) as r:
        r.prd("01-hello.md", '@fake text "hi"\n')
        await until(lambda: r.named("report.written"))
        await r.stop(stop_jobs=False)
        beats = len(r.home.heartbeat.read_text().splitlines())
        await r.start()
        await until(lambda: len(r.home.heartbeat.read_text().splitlines()) > beats)  # it has looked
        r.prd("02-next.md", '@fake text "next"\n')
        await until(lambda: len(r.named("report.written")) == 2)
        assert len(list(r.home.reports.iterdir())) == 2
        latest = r.named("report.written")[1]
        assert latest["runs"] == 1 and "02-next" in Path(latest["path"]).read_text()


def test_a_long_history_is_read_from_the_periods_start_and_its_bad_lines_there_are_counted(tmp_path):
    home, _, _ = make_home(tmp_path)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    since = start + dt.timedelta(days=20)

    def line(moment, slug):
        return json.dumps({"ts": moment.isoformat(), "event": "run.finished", "kind": "job", "slug": slug,
                           "runId": "r", "status": "completed", "reason": "done", "costUsd": 0.1})

    before = [line(start + dt.timedelta(minutes=i), f"old-{i}") for i in range(20_000)]
    before[10] = "{corrupt line long ago"
    during = [line(since + dt.timedelta(minutes=i), f"new-{i}") for i in range(3)]
    home.history.write_text("\n".join([*before, *during[:2], '{"ts": "cut', during[2]]) + "\n")
    assert home.history.stat().st_size > 2_000_000
    written = reports.make(home, {}, {}, since, since + dt.timedelta(hours=1))
    assert [job["slug"] for job in written.report["jobs"]] == ["new-0", "new-1", "new-2"]
    assert "1 unreadable line skipped." in written.markdown

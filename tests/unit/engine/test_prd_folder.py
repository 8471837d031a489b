"""The PRD folder → the queue (app/engine/prd_folder.py): files read, reconciled, announced
(docs/BEHAVIOUR.md sections 3 and 4)."""



from app.core.queue import Status

from .harness import Running, run, until


@run
async def test_an_invalid_prd_is_reported_never_run_and_left_untouched(tmp_path):
    async with Running(tmp_path) as r:
        path = r.prd("01-bad.md", "@fake text \"x\"\n", parallelGroup="soon")
        before = (path.read_bytes(), path.stat().st_mtime_ns)
        await until(lambda: r.status("01-bad") is Status.INVALID)
        assert "parallelGroup is 'soon'" in r.job("01-bad").reason
        assert r.named("prd.invalid")[0]["slug"] == "01-bad"
        assert r.named("job.started") == []
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before


@run
async def test_editing_a_failed_prd_queues_it_again(tmp_path):
    async with Running(tmp_path) as r:
        path = r.prd("01-a.md", "@fake max_turns\n@investigator nothing\n")
        await until(lambda: r.status("01-a") is Status.FAILED)
        path.write_text('@fake text "second try"\n')
        await until(lambda: r.status("01-a") is Status.COMPLETED)
        assert r.job("01-a").runs == 2

"""Fix plans held for the user's approval (`investigation.auto_run: false`, docs/BEHAVIOUR.md
section 8): written under fix-plans/, approved into prds/ or discarded aside, through a restart."""

from app.core.queue import InvestigationStatus, Status

from .harness import Running, run, until

HELD = {"investigation": {"auto_run": False}}


async def held_plan(r: Running) -> None:
    r.prd("03-broken.md", "@fake max_turns\n")
    await until(lambda: r.investigation("03-broken") is InvestigationStatus.HELD, timeout=20)


@run
async def test_a_held_fix_plan_waits_outside_prds_until_approved_then_runs(tmp_path):
    async with Running(tmp_path, HELD) as r:
        await held_plan(r)
        held = r.home.fix_plans / "03-fix-broken.md"
        assert held.exists() and not (r.home.prds / "03-fix-broken.md").exists()
        assert "03-fix-broken" not in r.engine.state.jobs
        assert r.named("fixplan.held") == [{"slug": "03-fix-broken", "investigationOf": "03-broken",
                                            "path": str(held)}]
        shown = next(job for job in (await r.engine.handle({"cmd": "status"}))["jobs"] if job["slug"] == "03-broken")
        assert shown["investigation"]["status"] == "held"
        assert shown["investigation"]["planPath"] == str(held)

        assert await r.engine.handle({"cmd": "approve", "slug": "03-fix-broken"}) == {"ok": True}
        assert not held.exists() and (r.home.prds / "03-fix-broken.md").exists()
        await until(lambda: r.status("03-fix-broken") is Status.COMPLETED, timeout=20)
        assert r.job("03-broken").fix_plan_slug == "03-fix-broken"
        assert r.job("03-fix-broken").investigation_of == "03-broken"
        assert r.investigation("03-broken") is InvestigationStatus.WROTE_FIX_PLAN
        assert r.named("fixplan.approved")[0]["slug"] == "03-fix-broken"


@run
async def test_discarding_a_held_fix_plan_keeps_the_file_aside_and_the_job_says_so(tmp_path):
    async with Running(tmp_path, HELD) as r:
        await held_plan(r)
        assert await r.engine.handle({"cmd": "discard", "slug": "03-fix-broken"}) == {"ok": True}
        kept = r.home.fix_plans / "discarded" / "03-fix-broken.md"
        assert kept.exists() and not (r.home.fix_plans / "03-fix-broken.md").exists()
        failed = r.job("03-broken")
        assert failed.status is Status.FAILED
        assert failed.investigation.status is InvestigationStatus.DISCARDED
        assert "discarded by the user" in failed.investigation.reason and str(kept) in failed.investigation.reason
        assert "03-fix-broken" not in r.engine.state.jobs
        answer = await r.engine.handle({"cmd": "approve", "slug": "03-fix-broken"})
        assert answer["ok"] is False and "no fix plan '03-fix-broken' awaits approval" in answer["error"]


@run
async def test_approving_a_slug_that_is_not_held_is_refused_with_the_reason(tmp_path):
    async with Running(tmp_path, HELD) as r:
        r.prd("01-a.md", '@fake text "a"\n')
        await until(lambda: r.status("01-a") is Status.COMPLETED)
        for cmd in ("approve", "discard"):
            answer = await r.engine.handle({"cmd": cmd, "slug": "01-a"})
            assert answer == {"ok": False, "error": "no fix plan '01-a' awaits approval (awaiting approval: none)"}
        answer = await r.engine.handle({"cmd": "approve"})
        assert answer == {"ok": False, "error": "approve needs the slug of a fix plan awaiting approval"}


@run
async def test_approval_never_overwrites_a_prd_of_the_same_name(tmp_path):
    async with Running(tmp_path, HELD) as r:
        await held_plan(r)
        mine = r.prd("03-fix-broken.md", "the user's own file\n")  # asked at once, before it is read
        answer = await r.engine.handle({"cmd": "approve", "slug": "03-fix-broken"})
        assert answer["ok"] is False
        assert answer["error"].startswith("prds/03-fix-broken.md exists already and is never overwritten")
        assert "the user's own file" in mine.read_text()
        assert (r.home.fix_plans / "03-fix-broken.md").exists()


@run
async def test_a_held_fix_plan_survives_a_restart_and_an_approval_cut_short_is_linked(tmp_path):
    r = Running(tmp_path, HELD)
    await r.start()
    try:
        await held_plan(r)
    finally:
        await r.stop(stop_jobs=True)
    assert r.saved()["jobs"][0]["investigation"]["status"] == "held"
    await r.start()
    try:
        assert r.investigation("03-broken") is InvestigationStatus.HELD
        assert await r.engine.handle({"cmd": "pause"}) == {"ok": True}
    finally:
        await r.stop(stop_jobs=True)
    # The plan moved into prds/, and Overnight stopped before it recorded the approval.
    (r.home.fix_plans / "03-fix-broken.md").rename(r.home.prds / "03-fix-broken.md")
    await r.start()
    try:
        await until(lambda: r.job("03-broken").fix_plan_slug == "03-fix-broken")
        assert r.investigation("03-broken") is InvestigationStatus.WROTE_FIX_PLAN
        assert r.job("03-fix-broken").investigation_of == "03-broken"
    finally:
        await r.stop(stop_jobs=True)


@run
async def test_resetting_the_failed_job_keeps_its_fix_plan_awaiting_approval(tmp_path):
    async with Running(tmp_path, HELD) as r:
        await held_plan(r)
        await r.engine.handle({"cmd": "pause"})
        assert await r.engine.handle({"cmd": "reset", "slug": "03-broken"}) == {"ok": True}
        assert r.status("03-broken") is Status.PENDING and r.investigation("03-broken") is InvestigationStatus.HELD
        assert await r.engine.handle({"cmd": "approve", "slug": "03-fix-broken"}) == {"ok": True}


@run
async def test_a_held_plan_whose_file_is_gone_cannot_be_approved_and_discarding_it_clears_it(tmp_path):
    async with Running(tmp_path, HELD) as r:
        await held_plan(r)
        (r.home.fix_plans / "03-fix-broken.md").rename(tmp_path / "moved-away.md")
        answer = await r.engine.handle({"cmd": "approve", "slug": "03-fix-broken"})
        assert answer == {"ok": False, "error": "fix-plans/03-fix-broken.md is gone; discard 03-fix-broken to clear it"}
        assert await r.engine.handle({"cmd": "discard", "slug": "03-fix-broken"}) == {"ok": True}
        assert r.investigation("03-broken") is InvestigationStatus.DISCARDED
        assert r.named("fixplan.discarded")[0]["to"] is None

"""Every event the engine tells the world about: the `event` of a log line, of `--json-logs`
and of what the GUI hears. Each is a StrEnum member, so it is written as its plain name."""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class EventName(StrEnum):
    # The engine itself
    ENGINE_STARTED = "engine.started"
    ENGINE_STOPPED = "engine.stopped"
    ENGINE_ERROR = "engine.error"  # a bug or a failure it survived
    ENGINE_LAG = "engine.lag"  # the event loop ran late
    HOME_QUARANTINED = "home.quarantined"  # an unusable file in the home was moved aside
    HOME_PROBLEM = "home.problem"  # something in the home the user should fix
    CONFIG_LOADED = "config.loaded"
    CONFIG_INVALID = "config.invalid"
    META_FAILED = "meta.failed"  # a run's meta.json could not be written

    # The queue as a whole
    QUEUE_RESTORED = "queue.restored"  # queue.json was restored or rebuilt at the start
    QUEUE_PAUSED = "queue.paused"
    QUEUE_RESUMED = "queue.resumed"
    USAGE_POLLED = "usage.polled"
    USAGE_FAILED = "usage.failed"
    NOTIFY_FAILED = "notify.failed"  # a push notification could not be sent (or was dropped)

    # PRD files in prds/
    PRD_ADDED = "prd.added"
    PRD_CHANGED = "prd.changed"
    PRD_INVALID = "prd.invalid"
    PRD_REMOVED = "prd.removed"
    PRD_REMOVED_DURING_RUN = "prd.removed_during_run"
    PRD_ARCHIVED = "prd.archived"

    # A job and its runs
    JOB_STARTED = "job.started"
    JOB_NOT_STARTED = "job.not_started"  # its start could not be made, it waits again
    JOB_RESUME_DROPPED = "job.resume_dropped"  # its session could not be continued where it began: it starts fresh
    JOB_ADOPTED = "job.adopted"  # a run a previous engine left alive
    JOB_RESULT = "job.result"
    JOB_FINISHED = "job.finished"
    JOB_VERIFIED = "job.verified"  # its verify commands ran after a completed run
    JOB_REQUEUED = "job.requeued"  # a failed job's PRD changed: it runs again
    JOB_CANCELLING = "job.cancelling"  # a running job is being stopped at the user's request
    JOB_CANCEL = "job.cancel"  # a pending job cancelled by the user
    JOB_SKIP = "job.skip"
    JOB_RESET = "job.reset"
    JOB_RERUN = "job.rerun"
    JOB_MERGED = "job.merged"  # a worktree job's branch merged into the integration branch
    JOB_NEEDS_REVIEW = "job.needs_review"  # its result could not be taken on its own
    RUN_LEFTOVERS_KILLED = "run.leftovers_killed"  # processes a finished run left behind
    RUN_QUARANTINED = "run.quarantined"  # a run record that could not be restored
    RUN_SPEND_STOPPED = "run.spend_stopped"  # its agent would be billed per token: stopped at once

    # Investigations of failed jobs
    INVESTIGATION_STARTED = "investigation.started"
    INVESTIGATION_ADOPTED = "investigation.adopted"
    INVESTIGATION_FINISHED = "investigation.finished"
    FIXPLAN_HELD = "fixplan.held"  # a fix plan waits under fix-plans/ for the user's approval
    FIXPLAN_APPROVED = "fixplan.approved"  # moved into prds/: it runs like any PRD
    FIXPLAN_DISCARDED = "fixplan.discarded"  # moved into fix-plans/discarded/

    # Reports
    REPORT_WRITTEN = "report.written"  # the queue drained and its report is in reports/

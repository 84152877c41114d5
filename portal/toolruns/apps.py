from django.apps import AppConfig


class ToolRunsConfig(AppConfig):
    name = "portal.toolruns"
    label = "toolruns"
    verbose_name = "Tool runs"

    def ready(self):
        from portal import jobs
        from portal.review.services import register_approval_blocker
        from portal.toolruns import checks, recap
        from portal.toolruns.services import JOB

        checks.register()
        jobs.register(JOB)
        # A recap's outputs wait for its unverified narration to be signed off (review asks; it never
        # imports toolruns).
        register_approval_blocker(recap.approval_blocker)

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "portal.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self):
        # The engine sends "jobs.run" by name through the Celery app's registry: make sure every
        # process that may send one (web, worker, beat) has registered it.
        from portal.jobs import tasks  # noqa: F401

from django.apps import AppConfig


class FootageConfig(AppConfig):
    name = "portal.footage"
    label = "footage"
    verbose_name = "Footage"

    def ready(self):
        from portal import jobs
        from portal.footage.services import INGEST_JOB, REDERIVE_JOB

        jobs.register(INGEST_JOB)
        jobs.register(REDERIVE_JOB)

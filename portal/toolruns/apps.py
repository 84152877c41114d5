from django.apps import AppConfig


class ToolRunsConfig(AppConfig):
    name = "portal.toolruns"
    label = "toolruns"
    verbose_name = "Tool runs"

    def ready(self):
        from portal.toolruns import checks

        checks.register()

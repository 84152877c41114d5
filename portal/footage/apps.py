from django.apps import AppConfig


class FootageConfig(AppConfig):
    name = "portal.footage"
    label = "footage"
    verbose_name = "Footage"

from django.apps import AppConfig


class StudiosConfig(AppConfig):
    name = "portal.studios"
    label = "studios"

from django.apps import AppConfig


class CharactersConfig(AppConfig):
    name = "portal.characters"
    label = "characters"

from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "portal.access"
    label = "access"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from portal.access.policy import forget_cached_roles
        from portal.projects.models import ProjectMembership
        from portal.studios.models import StudioMembership

        # a role changed during the request: the rest of the request asks the database again
        for model in (StudioMembership, ProjectMembership):
            post_save.connect(forget_cached_roles, sender=model, dispatch_uid=f"forget-roles-save-{model.__name__}")
            post_delete.connect(forget_cached_roles, sender=model, dispatch_uid=f"forget-roles-delete-{model.__name__}")

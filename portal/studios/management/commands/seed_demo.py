"""A demo studio, a project and one user per role, made through the same services the portal
uses (invitation sent, invitation accepted), so the demo has a real audit trail. Idempotent."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from portal.projects import services as project_services
from portal.projects.models import Project
from portal.studios import services
from portal.studios.models import Studio, StudioMembership

DEMO_PASSWORD = "portal-demo-2026"
STUDIO_SLUG = "demo"
PROJECT_CODE = "DEMO_S1"
PEOPLE = [
    ("admin@demo.test", "Ada Admin", "studio_admin", None),
    ("producer@demo.test", "Paula Producer", "member", "producer"),
    ("director@demo.test", "Dario Director", "member", "director"),
    ("artist@demo.test", "Aiko Artist", "member", "artist"),
    ("viewer@demo.test", "Victor Viewer", "member", "viewer"),
]
STAFF = ("staff@portal.test", "Sam Staff")

User = get_user_model()


class Command(BaseCommand):
    help = "Create the demo studio, project and one login per role (idempotent); print the logins."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true")

    @transaction.atomic
    def handle(self, *args, quiet=False, **options):
        studio = Studio.objects.filter(slug=STUDIO_SLUG).first() or services.studio_create(
            actor=None, name="Demo Studio", slug=STUDIO_SLUG
        )
        admin_email = PEOPLE[0][0]
        self._join(studio, admin_email, PEOPLE[0][1], "studio_admin", None, None)
        admin = User.objects.get(email=admin_email)
        project = Project.objects.filter(studio=studio, code=PROJECT_CODE).first() or project_services.project_create(
            actor=admin, studio=studio, code=PROJECT_CODE, name="Demo Series – Season 1", frame_rate="24000/1001"
        )
        for email, name, studio_role, project_role in PEOPLE[1:]:
            self._join(studio, email, name, studio_role, project, project_role, inviter=admin)
        if not User.objects.filter(email=STAFF[0]).exists():
            User.objects.create_superuser(email=STAFF[0], password=DEMO_PASSWORD, full_name=STAFF[1])
        if not quiet:
            self.stdout.write("")
            self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD})"))
            for email, _name, studio_role, project_role in PEOPLE:
                role = project_role or studio_role.replace("_", " ")
                self.stdout.write(f"  {role:<13} {email}")
            self.stdout.write(f"  {'platform staff':<13} {STAFF[0]}   (Django admin at /admin/)")
            self.stdout.write(f"Studio: {studio.name} (/s/{studio.slug}/), project {project.code}")

    def _join(self, studio, email, name, studio_role, project, project_role, inviter=None):
        if StudioMembership.objects.filter(studio=studio, user__email=email).exists():
            return
        if inviter is None:
            _inv, token = services.invitation_send(
                actor=None, studio=studio, email=email, studio_role=studio_role, as_platform_staff=True
            )
        else:
            _inv, token = services.invitation_send(
                actor=inviter,
                studio=studio,
                email=email,
                studio_role=studio_role,
                project=project,
                project_role=project_role or "",
            )
        existing = User.objects.filter(email=email).first()
        services.invitation_accept(raw_token=token, user=existing, password=DEMO_PASSWORD, full_name=name)

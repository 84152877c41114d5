"""Building test state through the services, like the product does."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from portal.projects import services as project_services
from portal.projects.models import Project
from portal.studios import services as studio_services
from portal.studios.models import Studio

User = get_user_model()
DEMO_PASSWORD = "correct-horse-battery-9"

# role name -> (studio role, project role or None)
ROLE_SPECS = {
    "studio_admin": ("studio_admin", None),
    "member": ("member", None),
    "producer": ("member", "producer"),
    "director": ("member", "director"),
    "artist": ("member", "artist"),
    "viewer": ("member", "viewer"),
}


def make_studio(name: str, slug: str) -> Studio:
    return studio_services.studio_create(actor=None, name=name, slug=slug)


def add_person(
    studio: Studio, email: str, studio_role: str, *, project: Project | None = None, project_role: str = "", inviter=None
):
    """Invite and accept, as a person would (inviter None: platform staff via the command line)."""
    if inviter is None:
        _inv, token = studio_services.invitation_send(
            actor=None, studio=studio, email=email, studio_role=studio_role, as_platform_staff=True
        )
    else:
        _inv, token = studio_services.invitation_send(
            actor=inviter, studio=studio, email=email, studio_role=studio_role, project=project, project_role=project_role
        )
    existing = User.objects.filter(email=email).first()
    return studio_services.invitation_accept(
        raw_token=token, user=existing, password=DEMO_PASSWORD, full_name=email.split("@")[0].title()
    )


@dataclass
class Side:
    studio: Studio
    project: Project
    users: dict[str, object] = field(default_factory=dict)


@dataclass
class World:
    a: Side
    b: Side
    staff: object

    def side(self, name: str) -> Side:
        return self.a if name == "a" else self.b


def build_side(key: str) -> Side:
    studio = make_studio(f"Studio {key.upper()}", f"studio-{key}")
    admin = add_person(studio, f"admin@{key}.test", "studio_admin")
    project = project_services.project_create(
        actor=admin, studio=studio, code=f"PRJ_{key.upper()}", name=f"Project {key.upper()}"
    )
    side = Side(studio=studio, project=project, users={"studio_admin": admin})
    for role, (studio_role, project_role) in ROLE_SPECS.items():
        if role == "studio_admin":
            continue
        side.users[role] = add_person(
            studio,
            f"{role}@{key}.test",
            studio_role,
            project=project if project_role else None,
            project_role=project_role or "",
            inviter=admin,
        )
    studio.refresh_from_db()
    return side


def build_world() -> World:
    staff = User.objects.create_user(email="staff@platform.test", password=DEMO_PASSWORD, is_staff=True, is_superuser=True)
    return World(a=build_side("a"), b=build_side("b"), staff=staff)

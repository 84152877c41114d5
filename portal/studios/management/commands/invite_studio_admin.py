from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from portal.studios import services
from portal.studios.models import Studio, StudioMembership


class Command(BaseCommand):
    help = "Onboard a beta partner: create the studio if needed and invite its first studio admin."

    def add_arguments(self, parser):
        parser.add_argument("--studio-name", required=True, help="Display name, e.g. 'Northlight Pictures'")
        parser.add_argument("--slug", default="", help="URL name; derived from the name if omitted")
        parser.add_argument("--email", required=True, help="Address of the studio's first admin")
        parser.add_argument("--print-link", action="store_true", help="Also print the acceptance link (it is emailed anyway)")

    def handle(self, *args, studio_name, slug, email, print_link, **options):
        try:
            with transaction.atomic():
                slug = slug or slugify(studio_name)
                studio = Studio.objects.filter(slug=slug).first()
                if studio is None:
                    studio = services.studio_create(actor=None, name=studio_name, slug=slug)
                    self.stdout.write(f"created studio {studio.name} ({studio.slug})")
                invitation, raw = services.invitation_send(
                    actor=None, studio=studio, email=email, studio_role=StudioMembership.Role.STUDIO_ADMIN, as_platform_staff=True
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"invited {invitation.email} as studio admin of {studio.name}; expires {invitation.expires_at:%Y-%m-%d %H:%M} UTC"
            )
        )
        if print_link:
            self.stdout.write(services._accept_url(raw))

from django.core.management.base import BaseCommand, CommandError

from portal.audit.verify import verify_all


class Command(BaseCommand):
    help = "Verify the hash chains of the audit log; name the first broken link and exit non-zero on any."

    def handle(self, *args, **options):
        chains, problem = verify_all()
        if problem is not None:
            raise CommandError(f"audit log tampered with: {problem}")
        self.stdout.write(self.style.SUCCESS(f"audit log intact: {chains} chain(s) verified"))

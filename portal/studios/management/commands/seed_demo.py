"""The demo: two studios, a project each, one login per role and platform staff; then generated footage,
ingested, one finished run of each tool and a few notes (portal/studios/demo.py). Idempotent.

`--accounts-only` stops after the accounts (the browser tests' server uses it: no media, no runs).
Progress goes to stderr; stdout carries only the logins, the same on every run."""

import time

from django.core.management.base import BaseCommand, CommandError

from portal.studios import demo


class Command(BaseCommand):
    help = (
        "Create the demo studios, projects and one login per role (idempotent), then the demo's footage, tool runs and "
        "notes; print the logins."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Print nothing (neither progress nor the logins).")
        parser.add_argument(
            "--accounts-only",
            action="store_true",
            help="Only the studios, projects and logins: no footage, tool runs or notes (fast; for test servers).",
        )

    def handle(self, *args, quiet=False, accounts_only=False, **options):
        started = time.monotonic()
        say = (lambda _line: None) if quiet else (lambda line: self.stderr.write(line, style_func=lambda s: s))
        projects = demo.seed_accounts()
        failure = None
        if not accounts_only:
            say("Demo content (generated footage, ingest, one run of each tool, notes):")
            try:
                made = demo.seed_content(projects, say=say)
            except demo.DemoError as exc:
                # The logins work all the same: print them, then say what is missing (and exit non-zero).
                failure = exc
            else:
                if not any(made.values()):
                    say("  already there, nothing to do")
                say(f"Demo seeded in {time.monotonic() - started:.1f} s")
        if not quiet:
            self._print_logins(projects)
        if failure is not None:
            raise CommandError(f"The demo's content is incomplete: {str(failure).rstrip('.')}. Run seed_demo again to finish it.")

    def _print_logins(self, projects):
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {demo.DEMO_PASSWORD})"))
        width = max(len(role) for role, _email in demo.logins())
        for role, email in demo.logins():
            suffix = "   (Django admin at /admin/)" if email == demo.STAFF[0] else ""
            self.stdout.write(f"  {role:<{width}}  {email}{suffix}")
        for spec in demo.STUDIOS:
            project = projects[spec.slug]
            self.stdout.write(f"{spec.name}: /s/{spec.slug}/, project {project.code} (/s/{spec.slug}/p/{project.code}/)")

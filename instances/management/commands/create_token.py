"""`manage.py create_token USERNAME`: print a new personal API token for automation."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from instances.tokens import token_create


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--description", default="")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user is called “{options['username']}”.")
        _token, raw = token_create(user=user, description=options["description"])
        self.stdout.write(raw)

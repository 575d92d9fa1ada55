from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEMO_PASSWORD, DEMO_SIGN_INS
from portal.demo import load_demo


class Command(BaseCommand):
    help = "Load the seed institution, its regulation's 14 staff and the demo sign-ins."

    def handle(self, *args, **options) -> None:
        if not settings.DEMO_ALLOWED:
            raise CommandError(
                "Демонстрационные данные нельзя загружать с рабочими (production) настройками."
            )
        organisation = load_demo()
        self.stdout.write(self.style.SUCCESS(f"Демо загружено: {organisation.full_name}"))
        self.stdout.write(f"Входы (пароль для всех: {DEMO_PASSWORD}):")
        for sign_in in DEMO_SIGN_INS:
            self.stdout.write(f"  {sign_in.username:<10} {sign_in.description}")

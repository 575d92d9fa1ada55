#!/usr/bin/env python
import sys


def main() -> None:
    # .env is read before the settings module is chosen: with DJANGO_SETTINGS_MODULE in it,
    # every command acts with those settings (docs/deploy.md); without, the local ones.
    from cdt_portal.dotenv import use_settings

    use_settings("cdt_portal.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

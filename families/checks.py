"""System checks of the families' settings, said in plain words."""

from django.conf import settings
from django.core.checks import Error, register

# 152-ФЗ ст. 21 ч. 5: a consent's data are destroyed «в срок, не превышающий тридцати дней».
LONGEST_RETENTION_DAYS = 30


@register()
def consent_retention_within_the_law(app_configs, **kwargs) -> list[Error]:
    days = settings.CONSENT_RETENTION_DAYS
    if 1 <= days <= LONGEST_RETENTION_DAYS:
        return []
    return [
        Error(
            f"CONSENT_RETENTION_DAYS={days}: a consent's data must be destroyed within 1 to "
            f"{LONGEST_RETENTION_DAYS} days of its withdrawal (152-ФЗ ст. 21 ч. 5).",
            hint=f"Set CONSENT_RETENTION_DAYS between 1 and {LONGEST_RETENTION_DAYS}.",
            id="families.E001",
        )
    ]

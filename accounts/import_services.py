"""Apply a previewed staff list: every new person in one transaction, or nobody."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from .models import ImportBatch, User, UserRole
from .services import free_username, username_base
from .staff_import import ImportFileError, ImportPreview, preview_staff_import


class ImportRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def batch_preview(batch: ImportBatch) -> ImportPreview:
    return preview_staff_import(
        organisation=batch.organisation, content=bytes(batch.content), filename=batch.filename
    )


def batch_apply(*, batch: ImportBatch, actor: User) -> list[User]:
    """Add the new people of a clean preview. The file is read again under the lock, so what is
    added is exactly what the preview of that moment shows."""
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != ImportBatch.Status.PENDING:
            raise ImportRefused("Этот список уже загружен или отменён.")
        try:
            preview = batch_preview(locked)
        except ImportFileError as exc:
            raise ImportRefused(exc.message) from exc
        if preview.errors:
            raise ImportRefused(
                "В списке есть строки с ошибками: исправьте файл и загрузите его снова. "
                "Ничего не добавлено."
            )
        taken = {u.lower() for u in User.objects.values_list("username", flat=True)}
        people = []
        for row in preview.to_add:
            username = free_username(
                username_base(
                    last_name=row.last_name, first_name=row.first_name, patronymic=row.patronymic
                ),
                taken,
            )
            people.append(
                User(
                    organisation=locked.organisation,
                    username=username,
                    last_name=row.last_name,
                    first_name=row.first_name,
                    patronymic=row.patronymic,
                    position=row.position,
                    email=row.email,
                    phone=row.phone,
                    password=make_password(None),  # no password until the invitation
                )
            )
        try:
            with transaction.atomic():
                created = User.objects.bulk_create(people, batch_size=500)
        except IntegrityError as exc:
            # Someone took one of these e-mails since the preview: nobody is added.
            raise ImportRefused(
                "Пока вы проверяли список, один из e-mail появился у другого человека. "
                "Ничего не добавлено: откройте проверку заново."
            ) from exc
        UserRole.objects.bulk_create(
            [UserRole(user=person, role=locked.role) for person in created], batch_size=500
        )
        locked.status = ImportBatch.Status.APPLIED
        locked.added = len(created)
        locked.content = b""  # the people are in the database now; the file is not kept
        locked.save(update_fields=["status", "added", "content"])
    return created


def batch_cancel(*, batch: ImportBatch) -> None:
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status == ImportBatch.Status.PENDING:
            locked.status = ImportBatch.Status.CANCELLED
            locked.content = b""
            locked.save(update_fields=["status", "content"])

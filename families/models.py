"""The families' side of the rollout: the parents' and the students' notices and who confirmed
them, the consent to personal-data processing (its texts, each act and the act's details), the
families who choose another channel than Sferum, and the parents' deadlines. The reminders the
deadlines start are letters of the core's outbox (`cdt_portal.Delivery`), not a model here.

These models began in `onboarding`, and their tables keep the names they were created with
(`db_table = "onboarding_…"`): the move between apps changed Django's state, not the database
(`families/migrations/0001_initial.py`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation

# Notices -------------------------------------------------------------------------------------


class PublishedNotice(models.Model):
    """A notice published to a group of people; the newest edition is in force and each
    edition is confirmed anew."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("текст уведомления"))
    published_at = models.DateTimeField(_("опубликовано"), auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.published_at:%d.%m.%Y}"


class ParentNotice(PublishedNotice):
    """The notice informing parents how the institution uses Sferum (section 5)."""

    class Meta(PublishedNotice.Meta):
        db_table = "onboarding_parentnotice"
        verbose_name = _("уведомление родителей")
        verbose_name_plural = _("уведомления родителей")


class NoticeAcknowledgement(models.Model):
    notice = models.ForeignKey(
        ParentNotice, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    parent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notice_acknowledgements"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "onboarding_noticeacknowledgement"
        constraints = [
            models.UniqueConstraint(fields=["notice", "parent"], name="notice_ack_once"),
        ]

    def __str__(self) -> str:
        return f"{self.parent}: {self.at:%d.%m.%Y}"


class StudentNotice(PublishedNotice):
    """The students' own short notice (section 5.2: students and parents are informed)."""

    class Meta(PublishedNotice.Meta):
        db_table = "onboarding_studentnotice"
        verbose_name = _("уведомление обучающихся")
        verbose_name_plural = _("уведомления обучающихся")


class StudentNoticeAcknowledgement(models.Model):
    notice = models.ForeignKey(
        StudentNotice, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "onboarding_studentnoticeacknowledgement"
        constraints = [
            models.UniqueConstraint(fields=["notice", "student"], name="student_notice_ack_once"),
        ]

    def __str__(self) -> str:
        return f"{self.student}: {self.at:%d.%m.%Y}"


# The consent to personal-data processing ---------------------------------------------------


class ConsentText(models.Model):
    """A version of the consent to personal-data processing (152-ФЗ, a separate document)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("текст согласия"))
    text_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "onboarding_consenttext"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.created_at:%d.%m.%Y}"


class SignatureTerms(models.Model):
    """A version of the organisation's terms of the простая электронная подпись for families
    (63-ФЗ ст. 6 ч. 2, ст. 9): what a parent or a student accepts, ticking it, when they sign a
    consent online with their password (152-ФЗ ст. 9 ч. 4: an electronic consent signed so is
    equal to a signed paper one). Stored with the first consent signed under it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("текст условий"))
    text_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("условия простой электронной подписи для семей")
        verbose_name_plural = _("условия простой электронной подписи для семей")

    def __str__(self) -> str:
        return f"{self.organisation}: {self.created_at:%d.%m.%Y}"


class ConsentAction(models.TextChoices):
    GIVEN = "given", _("дано")
    WITHDRAWN = "withdrawn", _("отозвано")


class ConsentRecord(models.Model):
    """One act of giving or withdrawing consent; never changed, the newest one is in force."""

    parent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents_given"
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents"
    )
    action = models.CharField(max_length=10, choices=ConsentAction.choices)
    consent_text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="records")
    at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    # The terms of the простая электронная подпись an online consent was signed under (none: on
    # paper, a withdrawal, or signed before the terms were asked for).
    signature_terms = models.ForeignKey(
        SignatureTerms, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        db_table = "onboarding_consentrecord"
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.parent} → {self.student}: {self.get_action_display()}"


class IdentityDocument(models.TextChoices):
    PASSPORT = "passport", _("паспорт гражданина Российской Федерации")
    FOREIGN_PASSPORT = "foreign_passport", _("паспорт иностранного гражданина")
    OTHER = "other", _("иной документ, удостоверяющий личность")


class AuthorityDocument(models.TextChoices):
    BIRTH_CERTIFICATE = "birth_certificate", _("свидетельство о рождении")
    GUARDIANSHIP = "guardianship", _("акт органа опеки и попечительства")
    OTHER = "other", _("иной документ, подтверждающий полномочия")


class ChildDocument(models.TextChoices):
    """What proves a child's identity: a birth certificate until 14, a passport from 14
    (Положение о паспорте гражданина РФ), another document for a foreign child."""

    BIRTH_CERTIFICATE = "birth_certificate", _("свидетельство о рождении")
    PASSPORT = "passport", _("паспорт гражданина Российской Федерации")
    OTHER = "other", _("иной документ, удостоверяющий личность")


class ConsentMethod(models.TextChoices):
    ONLINE = "online", _("в портале")
    PAPER = "paper", _("на бумаге")
    # Not the parent's act: the administrator removed the parent's link to the child, which
    # ends the consent that parent gave (families.services.end_what_the_guardianship_carried).
    UNLINKED = "unlinked", _("связь с родителем удалена")


def document_fields(label: str, choices) -> tuple[models.Field, ...]:
    """A document's kind, series, number, date of issue and issuer: the five fields a consent
    keeps for each document it names (`<prefix>_document`, `_series`, `_number`, `_issued_on`,
    `_issued_by`)."""
    return (
        models.CharField(label, max_length=20, choices=choices, blank=True),
        models.CharField(_("серия"), max_length=20, blank=True),
        models.CharField(_("номер"), max_length=30, blank=True),
        models.DateField(_("дата выдачи"), null=True, blank=True),
        models.CharField(_("кем выдан"), max_length=500, blank=True),
    )


class IdentityDocumentFields(models.Model):
    """The identity document of the person who signs a consent (152-ФЗ ст. 9 ч. 4): the parent
    in a parent's consent, the student in their own."""

    id_document, id_series, id_number, id_issued_on, id_issued_by = document_fields(
        _("документ, удостоверяющий личность"), IdentityDocument.choices
    )

    class Meta:
        abstract = True


class ConsentDetails(IdentityDocumentFields):
    """What a consent record says beyond «given»/«withdrawn» (152-ФЗ ст. 9 ч. 4): the parent,
    their identity document, the child, the document proving the parent's authority; and how
    the act was made (online, or on paper recorded by an administrator with the paper's date).
    A withdrawal keeps only the way and the date. Personal data: shown to the parent and the
    organisation's managers only."""

    record = models.OneToOneField(
        ConsentRecord, on_delete=models.PROTECT, related_name="details", primary_key=True
    )
    method = models.CharField(
        _("как оформлено"), max_length=10, choices=ConsentMethod.choices, default="online"
    )
    signed_on = models.DateField(_("дата документа"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    parent_full_name = models.CharField(_("Ф.И.О. родителя"), max_length=300, blank=True)
    parent_address = models.CharField(_("адрес родителя"), max_length=500, blank=True)
    child_full_name = models.CharField(_("Ф.И.О. ребёнка"), max_length=300, blank=True)
    child_birth_date = models.DateField(_("дата рождения ребёнка"), null=True, blank=True)
    child_address = models.CharField(_("адрес ребёнка"), max_length=500, blank=True)
    # The child is the subject of the data: their own identity document (152-ФЗ ст. 9 ч. 4
    # п. 1). Blank in acts recorded before it was asked for.
    (
        child_id_document,
        child_id_series,
        child_id_number,
        child_id_issued_on,
        child_id_issued_by,
    ) = document_fields(_("документ, удостоверяющий личность ребёнка"), ChildDocument.choices)
    (
        authority_document,
        authority_series,
        authority_number,
        authority_issued_on,
        authority_issued_by,
    ) = document_fields(_("документ, подтверждающий полномочия"), AuthorityDocument.choices)
    # When the nightly job erased the identity and address data above (`CONSENT_DETAIL_FIELDS`): the
    # retention after a withdrawal or after the end of the student's studies had passed
    # (`services.consent_data_erase`). The act itself, its way and dates stay.
    erased_at = models.DateTimeField(_("сведения удалены"), null=True, blank=True)
    # When the parent who gave this consent stopped being the child's parent in the portal
    # (unlinked) while the act was not the one in force: the retention runs from then, as after
    # a withdrawal (`services.end_what_the_guardianship_carried`). The act in force ends with an
    # act of its own.
    parent_unlinked_at = models.DateTimeField(_("родитель отвязан"), null=True, blank=True)

    class Meta:
        db_table = "onboarding_consentdetails"
        verbose_name = _("сведения согласия")
        verbose_name_plural = _("сведения согласий")

    def __str__(self) -> str:
        return f"{self.record}: {self.signed_on:%d.%m.%Y}"


class StudentConsent(IdentityDocumentFields):
    """A student's own consent to the processing of their personal data, from the age of 14
    (ГК РФ ст. 26: a minor of 14–18 acts with the consent of the parent; the parent's own consent
    is `ConsentRecord`, and both are kept). One row per act of giving or withdrawing, never
    changed but for the nightly erasure of the identity data; the newest row is in force.
    The age is checked on the date of birth the student gives (`services.student_consent_give`).
    """

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="own_consents"
    )
    action = models.CharField(max_length=10, choices=ConsentAction.choices)
    consent_text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    signature_terms = models.ForeignKey(
        SignatureTerms, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    full_name = models.CharField(_("Ф.И.О."), max_length=300, blank=True)
    birth_date = models.DateField(_("дата рождения"), null=True, blank=True)
    address = models.CharField(_("адрес регистрации (проживания)"), max_length=500, blank=True)
    erased_at = models.DateTimeField(_("сведения удалены"), null=True, blank=True)

    class Meta:
        verbose_name = _("согласие обучающегося")
        verbose_name_plural = _("согласия обучающихся")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.student}: {self.get_action_display()}"


# The elements of a parent's consent (152-ФЗ ст. 9 ч. 4) and of a student's own: all of them are
# identity and address data, erased by the nightly job once the retention has passed; the act,
# its way and its dates stay.
CONSENT_DETAIL_FIELDS = (
    "parent_full_name",
    "parent_address",
    "id_document",
    "id_series",
    "id_number",
    "id_issued_on",
    "id_issued_by",
    "child_full_name",
    "child_birth_date",
    "child_address",
    "child_id_document",
    "child_id_series",
    "child_id_number",
    "child_id_issued_on",
    "child_id_issued_by",
    "authority_document",
    "authority_series",
    "authority_number",
    "authority_issued_on",
    "authority_issued_by",
)
STUDENT_CONSENT_FIELDS = (
    "full_name",
    "birth_date",
    "address",
    "id_document",
    "id_series",
    "id_number",
    "id_issued_on",
    "id_issued_by",
)
CONSENT_DATE_FIELDS = (
    "id_issued_on",
    "child_birth_date",
    "child_id_issued_on",
    "authority_issued_on",
    "birth_date",
)


# Families who choose another channel ------------------------------------------------------


class FamilyChannel(models.TextChoices):
    PHONE = "phone", _("по телефону")
    EMAIL = "email", _("по электронной почте")
    PAPER = "paper", _("на бумаге (через ребёнка или лично)")


class FamilyChoice(models.Model):
    """A parent's choice for one child: «не используем Сферум/MAX» and the other channel the
    family prefers. `declined` false: they changed their mind (the row and its history stay)."""

    parent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="family_choices"
    )
    declined = models.BooleanField(_("не используем «Сферум»"), default=True)
    channel = models.CharField(
        _("другой способ связи"), max_length=10, choices=FamilyChannel.choices, blank=True
    )
    contact = models.CharField(_("телефон или e-mail для связи"), max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "onboarding_familychoice"
        verbose_name = _("выбор семьи")
        verbose_name_plural = _("выбор семей")
        constraints = [
            models.UniqueConstraint(fields=["parent", "student"], name="family_choice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.parent} → {self.student}: {self.get_channel_display()}"


# Deadlines for parents ---------------------------------------------------------------------


class ParentTask(models.TextChoices):
    NOTICE = "notice", _("уведомление")
    CONSENT = "consent", _("согласие")


class ParentDeadline(models.Model):
    """The date by which parents should confirm the notice in force, or give the consent for
    each child. Setting it starts the reminder schedule again from that day. The reminders
    themselves are letters of the portal's one outbox (`cdt_portal.Delivery`, kind
    `parent_reminder`), sent by a daily job (`services.parent_reminders_send`)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("что сделать"), max_length=10, choices=ParentTask.choices)
    due_date = models.DateField(_("срок"))
    reminders_from = models.DateField(_("напоминания с"))

    class Meta:
        db_table = "onboarding_parentdeadline"
        verbose_name = _("срок для родителей")
        verbose_name_plural = _("сроки для родителей")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "kind"], name="parent_deadline_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: до {self.due_date:%d.%m.%Y}"

"""Invitations: a link to choose a password, printed on slips (one at once, many in a job) or
sent by e-mail (a job), and a manager's code proving the mailbox."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from cdt_portal import outbox
from cdt_portal.audit import log_action
from cdt_portal.emails import build_templated
from cdt_portal.errors import PortalError
from cdt_portal.files import store_once
from cdt_portal.jobs import ThrottledProgress, job_progress, job_task, start_job
from cdt_portal.models import Delivery, Job
from cdt_portal.outbox import Recipient

from ..invitations import (
    CODE_MINUTES,
    LINK_USED,
    IssuedInvitation,
    code_expires_at,
    invitation_slip,
    invitation_url,
    mask_email,
    render_invitation_slips,
)
from ..models import (
    Invitation,
    InvitationMailing,
    Organisation,
    User,
)
from ..roles import (
    is_manager,
    may_open_account_of,
    out_of_reach_message,
)
from .common import INACTIVE_ACCOUNT, _refuse, _Refused, _role_list

# --- Invitations --------------------------------------------------------------------------


def _require_reach(actor: User, people: Iterable[User]) -> None:
    """An invitation (or a printed slip) puts a password on the account: refused, and the
    refusal recorded, for anyone the actor does not stand above (`roles.may_open_account_of`)."""
    for person in people:
        if not may_open_account_of(actor, person):
            _refuse(
                actor,
                person,
                _Refused(
                    "invitation.refused",
                    out_of_reach_message(person),
                    {"roles": _role_list(person.roles)},
                ),
            )


def _new_invitation(*, user: User, actor: User | None, emailed_to: str) -> Invitation:
    """Record a new invitation (any older link of the person stops working) and its entry,
    inside the caller's transaction."""
    invitation = Invitation.objects.create(
        user=user,
        created_by=actor,
        expires_at=timezone.now() + dt.timedelta(days=settings.INVITATION_DAYS),
        emailed_to=emailed_to,
    )
    log_action(
        actor, user, "invitation.issued", {"invitation": invitation.pk, "emailed_to": emailed_to}
    )
    return invitation


def invitation_issue(*, user: User, actor: User, base_url: str) -> IssuedInvitation:
    """A new invitation to print (a slip, for a person without an e-mail or to hand over);
    any older link of the person stops working. Letters go by `invitations_email_start` (a
    job, through the outbox)."""
    if not user.is_active:
        raise PortalError(INACTIVE_ACCOUNT)
    _require_reach(actor, [user])
    with transaction.atomic():
        invitation = _new_invitation(user=user, actor=actor, emailed_to="")
    return IssuedInvitation(invitation, invitation_url(invitation, base_url), False)


# --- Printed slips for many people: a job, the sheet stored for an hour -------------------

SLIPS_KIND = "invitation_slips"
# Under MEDIA_ROOT, which has no public address (deploy/nginx: /private-media/ answers 404):
# a sheet is served only by `people_views.invitation_slips_pdf`, to whoever started its job.
SLIPS_FOLDER = "invitations/slips"
# The sheet holds live sign-in links: it is served, and kept, this long after it is stored
# (`invitation_slips_remove_old`, every ten minutes from `tasks.py`, deletes older ones).
SLIPS_KEEP = dt.timedelta(hours=1)
# A second press with the same people this soon after the first, or while its job is still
# going, finds that job; a later one prints anew (new links, the earlier sheet's stop working).
SLIPS_DOUBLE_PRESS_SECONDS = 10
NOBODY_TO_PRINT = "Отметьте, кому напечатать приглашения."
NOBODY_LEFT_TO_PRINT = (
    "Печатать некому: отмеченные люди уже выбрали пароль или их учётные записи отключены."
)
# Shown beside «выполняется» while the slips, each prepared, are laid out in one PDF.
SLIPS_RENDERING = "приглашения собираются в PDF"
_SLIPS_NAME = re.compile(rf"{re.escape(SLIPS_FOLDER)}/[A-Za-z0-9_-]{{24}}\.pdf")


def _slips_prefix(actor: User, people: list[User]) -> str:
    ids = ",".join(str(pk) for pk in sorted(p.pk for p in people))
    digest = hashlib.sha256(f"{actor.organisation_id}|slips|{ids}".encode()).hexdigest()
    return f"invitation-slips:{actor.pk}:{digest[:40]}:"


def _open_slips_job(prefix: str, now: dt.datetime) -> Job | None:
    """The actor's latest print of the same people, if it is still going or was just started."""
    job = Job.objects.filter(kind=SLIPS_KIND, key__startswith=prefix).order_by("-pk").first()
    recent = now - dt.timedelta(seconds=SLIPS_DOUBLE_PRESS_SECONDS)
    if job is not None and (not job.finished or job.created_at >= recent):
        return job
    return None


def invitation_slips_start(*, actor: User, people: Iterable[User], base_url: str) -> Job:
    """Print slips for these people in a background job: a new invitation each (any older
    link of theirs stops working), laid out on one sheet, stored for an hour for the actor
    alone (`stored_invitation_slips`). Refused as a whole, the refusal recorded and nothing
    queued, if anyone chosen is out of the actor's reach. Pressed twice within a few seconds,
    or while the job is going, the same job."""
    people = list(people)
    if not people:
        raise PortalError(NOBODY_TO_PRINT)
    if any(not person.is_active for person in people):
        raise PortalError(INACTIVE_ACCOUNT)
    _require_reach(actor, people)
    prefix = _slips_prefix(actor, people)
    now = timezone.now()
    with transaction.atomic():
        # One press at a time per actor: the look for an open print and the count of earlier
        # ones see the same rows (PostgreSQL; SQLite has no row locks, and two presses at
        # once meet on the job's unique key instead).
        User.objects.select_for_update().only("pk").get(pk=actor.pk)
        job = _open_slips_job(prefix, now)
        if job is not None and job.status != Job.Status.FAILED:
            return job
        if job is not None:
            key = job.key  # a failed print pressed again at once: queued again, as it was
        else:
            key = f"{prefix}{Job.objects.filter(key__startswith=prefix).count() + 1}"
        # The sheet's name, random and chosen now, is kept on the job's row (its arguments):
        # a requeued or retried run stores under the same name, and the view finds it there.
        name = f"{SLIPS_FOLDER}/{secrets.token_urlsafe(18)}.pdf"
        return start_job(
            task=print_invitation_slips,
            key=key,
            kind=SLIPS_KIND,
            title=f"Приглашения для печати: {len(people)}",
            organisation_id=actor.organisation_id,
            actor=actor,
            args=(sorted(p.pk for p in people), base_url[:300], name),
            total=len(people),
        )


def invitation_slips_run(*, job_id: int, people_ids: list[int], base_url: str, name: str) -> str:
    """The job's work: a new invitation for each person (one entry each, as the person who
    pressed), each slip prepared as it is issued (progress per person), then the sheet laid
    out and stored once under `name`; returns the sheet's address. Run again (a requeued
    job) after the sheet was stored, it only finishes; before, it issues anew: the links of
    the interrupted run were never printed, and the newest link is the one that works."""
    url = reverse("invitation_slips_pdf", kwargs={"pk": job_id})
    if default_storage.exists(name):
        return url
    Job.objects.filter(pk=job_id).update(message="")
    job = Job.objects.select_related("started_by__organisation").get(pk=job_id)
    actor = job.started_by
    # Whoever has chosen a password or been switched off since the press needs no slip.
    people = list(
        User.objects.filter(
            pk__in=people_ids,
            organisation_id=job.organisation_id,
            is_active=True,
            password__startswith=UNUSABLE_PASSWORD_PREFIX,
        )
        .select_related("organisation")
        .prefetch_related("user_roles")
        .order_by("last_name", "first_name", "patronymic", "pk")
    )
    if not people:
        raise PortalError(NOBODY_LEFT_TO_PRINT)
    # A role given since the press may put someone out of the actor's reach: refused as a
    # whole, and recorded, before anything is issued.
    _require_reach(actor, people)
    progress = ThrottledProgress(job_id, len(people))
    slips = []
    for done, person in enumerate(people, start=1):
        with transaction.atomic():
            invitation = _new_invitation(user=person, actor=actor, emailed_to="")
        issued = IssuedInvitation(invitation, invitation_url(invitation, base_url), False)
        slips.append(invitation_slip(issued))
        progress(done)
    progress(len(people), final=True)
    Job.objects.filter(pk=job_id).update(message=SLIPS_RENDERING)
    store_once(name, render_invitation_slips(slips)[1])
    return url


# Retryable from the jobs page: a failed print runs again as it was, with new links.
@job_task()
def print_invitation_slips(job_id: int, people_ids: list[int], base_url: str, name: str) -> str:
    return invitation_slips_run(job_id=job_id, people_ids=people_ids, base_url=base_url, name=name)


def stored_invitation_slips(job: Job, *, now: dt.datetime | None = None) -> str | None:
    """Where the sheet of a print job is stored, while it is kept (SLIPS_KEEP); None before
    the job has stored it, after it was removed, and for any job that is not a print."""
    name = job.task_args[2] if job.kind == SLIPS_KIND and len(job.task_args) == 3 else ""
    if not isinstance(name, str) or not _SLIPS_NAME.fullmatch(name):
        return None
    try:
        stored_at = default_storage.get_modified_time(name)
    except FileNotFoundError:
        return None
    return name if stored_at >= (now or timezone.now()) - SLIPS_KEEP else None


def invitation_slips_remove_old(*, now: dt.datetime | None = None) -> list[str]:
    """Delete the stored sheets of slips older than SLIPS_KEEP (and anything a killed worker
    left half-written there): each holds live sign-in links. Changes no row."""
    cutoff = (now or timezone.now()) - SLIPS_KEEP
    try:
        _, files = default_storage.listdir(SLIPS_FOLDER)
    except FileNotFoundError:
        return []
    removed = []
    for file_name in sorted(files):
        name = f"{SLIPS_FOLDER}/{file_name}"
        try:
            old = default_storage.get_modified_time(name) < cutoff
        except FileNotFoundError:
            continue
        if old:
            default_storage.delete(name)
            removed.append(name)
    return removed


# --- Invitations by e-mail: a job, through the outbox ---------------------------------------

NOBODY_TO_EMAIL = "Отметьте людей с e-mail, которые ещё не выбрали пароль."
# A second press while the first mailing is going, or this soon after it, finds that mailing.
MAILING_DOUBLE_PRESS_SECONDS = 30
KIND = "invitation"
SETTLED_ACTIONS = {
    Delivery.Status.SENT: "invitation.emailed",
    Delivery.Status.FAILED: "invitation.email_failed",
    Delivery.Status.UNCONFIRMED: "invitation.email_unconfirmed",
    Delivery.Status.WITHDRAWN: "invitation.email_withdrawn",
}
SUPERSEDED = "человеку уже выдано более новое приглашение"


def _mailing_hash(organisation: Organisation, people: list[User], scope: str) -> str:
    ids = ",".join(str(pk) for pk in sorted(p.pk for p in people))
    return hashlib.sha256(f"{organisation.pk}|{scope}|{ids}".encode()).hexdigest()


def _open_mailing_job(people_hash: str) -> Job | None:
    """The job of a mailing of the same people that is still going or was just started."""
    recent = timezone.now() - dt.timedelta(seconds=MAILING_DOUBLE_PRESS_SECONDS)
    for mailing in InvitationMailing.objects.filter(people_hash=people_hash).order_by("-pk")[:1]:
        job = Job.objects.filter(key=mailing.key).first()
        if job is not None and (not job.finished or mailing.created_at >= recent):
            return job
    return None


def _start_mailing(
    *, organisation: Organisation, people: list[User], actor: User, base_url: str, scope: str
) -> Job:
    if len(people) == 1 and not people[0].is_active:
        raise PortalError(INACTIVE_ACCOUNT)
    people = [p for p in people if p.is_active and p.email]
    if not people:
        raise PortalError(NOBODY_TO_EMAIL)
    _require_reach(actor, people)
    people_hash = _mailing_hash(organisation, people, scope)
    with transaction.atomic():
        # One press at a time per organisation: the look for an open mailing and the count of
        # earlier ones must see the same rows (two presses between them sent every letter
        # twice, tests/jobs/test_stress.py).
        Organisation.objects.select_for_update().only("pk").get(pk=organisation.pk)
        job = _open_mailing_job(people_hash)
        if job is not None:
            return job
        generation = InvitationMailing.objects.filter(people_hash=people_hash).count() + 1
        key = f"invitations:{people_hash[:40]}:{generation}"
        try:
            with transaction.atomic():
                mailing = InvitationMailing.objects.create(
                    organisation=organisation,
                    created_by=actor,
                    key=key,
                    people_hash=people_hash,
                    base_url=base_url[:300],
                )
        except IntegrityError:
            # The other press created it a moment ago (SQLite has no row locks): its job.
            return Job.objects.get(key=key)
        outbox.record(
            batch=mailing.batch,
            kind=KIND,
            organisation_id=organisation.pk,
            recipients=[Recipient(person, person.email) for person in people],
        )
        log_action(
            actor,
            mailing,
            "invitation.mailing.started",
            {"people": len(people), "retry": scope or ""},
        )
        title = (
            f"Приглашение на {people[0].email}"
            if len(people) == 1
            else f"Приглашения по e-mail: {len(people)}"
        )
        return start_job(
            task=send_invitations,
            key=key,
            kind="invitations",
            title=title,
            organisation_id=organisation.pk,
            actor=actor,
            args=(mailing.pk,),
            total=len(people),
        )


def invitations_email_start(
    *, organisation: Organisation, people: Iterable[User], actor: User, base_url: str
) -> Job:
    """Send invitations by e-mail to these people in a background job (one letter each, each
    result recorded). Pressed twice, the same job."""
    return _start_mailing(
        organisation=organisation, people=list(people), actor=actor, base_url=base_url, scope=""
    )


def invitation_mailing_retry(*, mailing: InvitationMailing, actor: User) -> Job:
    """Send again, in a new job, to the people of a mailing whose letter was not sent (the
    server refused it or was down) or whose sending was not confirmed (the administrator's
    choice: such a letter may have arrived)."""
    people = [letter.person for letter in outbox.unsent(mailing.batch)]
    if not people:
        raise PortalError("Повторять нечего: все письма этой рассылки отправлены.")
    return _start_mailing(
        organisation=mailing.organisation,
        people=people,
        actor=actor,
        base_url=mailing.base_url,
        scope=f"retry-of-{mailing.pk}",
    )


def invitation_mailing_run(*, job_id: int, mailing_id: int) -> str:
    """The job's work: the mailing's letters through the outbox (each claimed before the
    SMTP call and settled after, so the job can stop anywhere and run again without sending
    anything twice). Each letter carries a new link, issued as it is claimed; a letter that
    certainly did not go takes its link back, so the person's previous one works again."""
    mailing = InvitationMailing.objects.select_related("organisation", "created_by").get(
        pk=mailing_id
    )
    batch = mailing.batch
    total = outbox.letters(batch).count()
    progress = ThrottledProgress(job_id, total)
    done = total - outbox.letters(batch).filter(status=Delivery.Status.PENDING).count()
    progress(done)

    def claim(letter: Delivery) -> None:
        person = letter.person
        if not person.is_active:
            letter.status, letter.reason = Delivery.Status.FAILED, "учётная запись отключена"
        elif not may_open_account_of(mailing.created_by, person):
            # A role given since the mailing started puts the account out of its sender's reach.
            letter.status, letter.reason = Delivery.Status.FAILED, out_of_reach_message(person)
        elif Invitation.objects.filter(user=person, created_at__gt=mailing.created_at).exists():
            # Invited again since (a later mailing, a printed slip): this older letter would
            # replace the link they already hold (a failed job retried from the jobs' list,
            # or a mailing's letter left pending while the queue was down).
            letter.status, letter.reason = Delivery.Status.WITHDRAWN, SUPERSEDED
        else:
            invitation = _new_invitation(
                user=person, actor=mailing.created_by, emailed_to=letter.email
            )
            letter.data = {"invitation": invitation.pk}

    def build(letter: Delivery):
        invitation = Invitation.objects.get(pk=letter.data["invitation"])
        return build_templated(
            "invitation",
            to=[letter.email],
            context={
                "person": letter.person,
                "url": invitation_url(invitation, mailing.base_url),
                "invitation": invitation,
            },
        )

    def settled(letter: Delivery) -> None:
        if letter.status == Delivery.Status.FAILED and letter.data.get("invitation"):
            # Certainly not sent: the new link reached nobody, so it is dropped and the
            # person's previous link (if any) works again.
            Invitation.objects.filter(pk=letter.data["invitation"], used_at=None).delete()
            letter.data = {}
            letter.save(update_fields=["data"])
        log_action(
            mailing.created_by,
            letter.person,
            SETTLED_ACTIONS[letter.status],
            {"mailing": mailing.pk, "email": letter.email, "reason": letter.reason},
            organisation_id=mailing.organisation_id,
        )

    def advance() -> None:
        nonlocal done
        done += 1
        progress(done)

    outbox.send(batch=batch, build=build, on_claim=claim, on_settled=settled, progress=advance)
    progress(total, final=True)
    return ""


# No huey retries: a letter whose server refused it for now is tried again inside the job
# (with back-off), and a job whose worker stopped is queued again by the core's
# `jobs_recover`; each run sends only the letters not yet recorded.
@job_task()
def send_invitations(job_id: int, mailing_id: int) -> str:
    return invitation_mailing_run(job_id=job_id, mailing_id=mailing_id)


# --- A manager proves the mailbox before an invitation opens the account ------------------

CODE_NEEDS_EMAIL = (
    "Руководитель и администратор подтверждают приглашение кодом из письма, а у вашей учётной "
    "записи нет e-mail. Попросите того, кто вас пригласил, указать его и прислать новое "
    "приглашение."
)
CODE_FIRST = "Сначала получите код: нажмите «Отправить код на e-mail»."
CODE_OLD = f"Код устарел: он действует {CODE_MINUTES} минут. Получите новый."
CODE_WRONG = "Код не подошёл. Проверьте последнее письмо с кодом или получите новый."
CODE_NOT_NEEDED = "приглашение уже принято"


def _code_hash(invitation: Invitation, code: str) -> str:
    value = f"{invitation.pk}:{invitation.user_id}:{code.strip()}"
    return salted_hmac("cdt_portal.accounts.invitation_code", value, algorithm="sha256").hexdigest()


def invitation_code_start(*, invitation: Invitation) -> Job:
    """A director or an administrator accepting an invitation first gets a code at the e-mail
    on their account (a printed slip, or a link passed on, alone never opens a manager's
    account). A job sends it; pressing again within the minute finds the same job (sent, or
    still going), later a new code replaces the old one. A press after the job failed (the
    server refused the letter) queues it again with a new letter: each press carries its own
    mark (`press`), which names the letter's batch."""
    user = invitation.user
    if not user.email:
        raise PortalError(CODE_NEEDS_EMAIL)
    return start_job(
        task=send_invitation_code,
        key=f"invitation-code:{invitation.pk}:{timezone.now():%Y%m%d%H%M}",
        kind="invitation_code",
        # Masked: the invitation's page, open to whoever holds the link, shows the job.
        title=f"Код подтверждения на {mask_email(user.email)}",
        organisation_id=user.organisation_id,
        actor=None,
        args=(invitation.pk, secrets.token_hex(8)),
        total=1,
    )


def invitation_code_run(*, job_id: int, invitation_id: int, press: str = "") -> str:
    """The job: the letter with a new code, its hash kept on the invitation (the code itself
    nowhere). The code is drawn when its letter is claimed, in the letter's own transaction,
    so a job that runs again after its letter went (a worker killed before the job was marked
    done) replaces nothing: the code in the letter stays the one that works. A letter the
    server refuses fails the job with the reason."""
    invitation = (
        Invitation.objects.select_related("user__organisation").filter(pk=invitation_id).first()
    )
    if invitation is None or invitation.used_at or not invitation.user.email:
        return ""
    user = invitation.user
    batch = f"invitation-code:{invitation.pk}:{job_id}:{press}"
    outbox.record(
        batch=batch,
        kind="invitation_code",
        organisation_id=user.organisation_id,
        recipients=[Recipient(user, user.email)],
    )
    drawn: dict[str, str] = {}

    def claim(letter: Delivery) -> None:
        locked = Invitation.objects.select_for_update(of=("self",)).get(pk=invitation.pk)
        if locked.used_at:
            letter.status, letter.reason = Delivery.Status.WITHDRAWN, CODE_NOT_NEEDED
            return
        drawn["code"] = f"{secrets.randbelow(10**6):06d}"
        locked.code_hash = _code_hash(locked, drawn["code"])
        locked.code_sent_to = letter.email
        locked.code_sent_at = timezone.now()
        locked.save(update_fields=["code_hash", "code_sent_to", "code_sent_at"])
        log_action(
            None,
            user,
            "invitation.code_sent",
            {"invitation": locked.pk, "email": letter.email},
            organisation_id=user.organisation_id,
        )

    outbox.send(
        batch=batch,
        build=lambda letter: build_templated(
            "invitation_code",
            to=[letter.email],
            context={"person": user, "code": drawn["code"], "minutes": CODE_MINUTES},
        ),
        on_claim=claim,
    )
    letter = outbox.letters(batch).get()
    if letter.status == Delivery.Status.WITHDRAWN:
        return ""
    if letter.status != Delivery.Status.SENT:
        raise PortalError(f"Письмо с кодом не отправлено: {letter.reason or 'сервер не ответил'}")
    job_progress(job_id, 1)
    return ""


# Not retried from the jobs page: the person asks for a new code on the invitation's page.
@job_task(retryable=False)
def send_invitation_code(job_id: int, invitation_id: int, press: str = "") -> str:
    return invitation_code_run(job_id=job_id, invitation_id=invitation_id, press=press)


def _require_code(invitation: Invitation, code: str) -> None:
    if not invitation.code_hash or invitation.code_sent_at is None:
        raise PortalError(CODE_FIRST, field="code")
    if code_expires_at(invitation) <= timezone.now():
        raise PortalError(CODE_OLD, field="code")
    if not constant_time_compare(_code_hash(invitation, code), invitation.code_hash):
        raise PortalError(CODE_WRONG, field="code")


def invitation_accept(*, invitation: Invitation, password: str, code: str = "") -> User:
    """The person chooses a password by their link; the link is spent. A director or an
    administrator also gives the code sent to their e-mail (`invitation_code_start`)."""
    with transaction.atomic():
        locked = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=invitation.pk)
        )
        if locked.used_at:
            raise PortalError(LINK_USED)
        if is_manager(locked.user):
            _require_code(locked, code)
        user = locked.user
        user.set_password(password)
        user.save(update_fields=["password"])
        locked.used_at = timezone.now()
        locked.save(update_fields=["used_at"])
        log_action(user, user, "invitation.accepted", {"invitation": locked.pk})
    return user

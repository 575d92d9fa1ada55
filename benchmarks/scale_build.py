"""What the scale section builds, with bulk_create only: a department of institutions with
their staff, groups, students and parents, its officer, and outside it a large institution and
one of a tenth of its size (ScaleBench's building, in benchmarks/scale.py)."""

from __future__ import annotations

import datetime as dt
import time

from scale_report import say
from scale_tools import make_real_hash


class Shim:
    """What JobsBench.sheet asks of its `portal`, for one of the institutions built here."""

    def __init__(self, bench: BuildMixin, size: str) -> None:
        self.bench, self.size = bench, size

    def grow_to(self, size: int) -> None:
        pass

    def staff_count(self) -> int:
        return self.bench.staff_count(self.size)

    def version(self):
        return self.bench.version(self.size)


class BuildMixin:
    """ScaleBench's building: the institutions, the department and its officer, the staff who
    confirm, ANALYZE after each load; each size's staff on the sheet and regulation version."""

    # --- building ----------------------------------------------------------------------------

    def analyze(self) -> None:
        from django.db import connection

        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        say(f"ANALYZE done in {time.perf_counter() - started:.1f} s")
        self.info.setdefault("analyze", []).append(round(time.perf_counter() - started, 1))

    def build_institution(
        self,
        slug: str,
        *,
        department,
        staff: int,
        families: int,
        groups: int,
        confirmed: bool,
        name: str,
    ):
        """An institution of `staff` staff (the first its administrator and a teacher, the
        second its director, the third a teacher), `families` students each with a parent,
        `groups` groups; the regulation approved with the demo's text; Sferum verified for 70 %
        of the staff, the parents' notice confirmed by 60 % of the parents, consents from 50 %,
        a registration request at one of its stages; 60 % of the staff confirmed when
        `confirmed` (`confirm_share`). Its administrator, director, teacher and one parent (with
        one child in a group) sign in with a real password: `<slug>-admin`, … They never
        confirm, so their own pages look the same at every size. Everything is bulk-created."""
        from django.db import transaction
        from django.utils import timezone
        from run_staff import fake_person

        from accounts.models import Guardianship, Organisation, Role, StudyGroup, User, UserRole
        from acknowledgements.models import (
            REGULATION_CODE,
            Document,
            DocumentVersion,
            VersionStatus,
        )
        from families.models import (
            ConsentAction,
            ConsentRecord,
            ConsentText,
            NoticeAcknowledgement,
            ParentNotice,
        )
        from onboarding.models import (
            RegistrationRequest,
            RequestStatus,
            SferumStatus,
            TeacherSferumStatus,
        )

        rng = self.portal.rng
        batch = 2000
        today = timezone.localdate()
        demo_version = self.portal.version()
        self.built += 1
        with transaction.atomic():
            organisation = Organisation.objects.create(
                slug=slug,
                full_name=f"Муниципальное учреждение дополнительного образования «{name}»",
                short_name=f"МУ ДО «{name}»",
                head_position="Директор",
                head_name="А.Б. Руководитель",
                time_zone="Europe/Moscow",
                department=department,
            )
            people: list[User] = []
            for n in range(staff):
                last, first, middle, position = fake_person(rng)
                username = f"{slug}-t{n:05d}"
                people.append(
                    User(
                        organisation=organisation,
                        username=username,
                        last_name=last,
                        first_name=first,
                        patronymic=middle,
                        position="Директор" if n == 1 else position,
                        email=f"{username}@scale.example" if n % 3 else "",
                        password="!",
                    )
                )
            for code in ("s", "p"):
                for n in range(families):
                    last, first, middle, _ = fake_person(rng)
                    username = f"{slug}-{code}{n:05d}"
                    people.append(
                        User(
                            organisation=organisation,
                            username=username,
                            last_name=last,
                            first_name=first,
                            patronymic=middle,
                            email=f"{username}@scale.example" if code == "p" else "",
                            password="!",
                        )
                    )
            personas = {"admin": 0, "director": 1, "teacher": 2, "parent": staff + families}
            for role, index in personas.items():
                people[index].username = f"{slug}-{role}"
                people[index].password = self.real_hash
            people[staff].username = f"{slug}-student"
            User.objects.bulk_create(people, batch_size=batch)
            teachers = people[:staff]
            students = people[staff : staff + families]
            parents = people[staff + families :]
            roles = [UserRole(user=p, role=Role.TEACHER) for n, p in enumerate(teachers) if n != 1]
            roles.append(UserRole(user=teachers[0], role=Role.ADMIN))
            roles.append(UserRole(user=teachers[1], role=Role.DIRECTOR))
            roles += [UserRole(user=p, role=Role.STUDENT) for p in students]
            roles += [UserRole(user=p, role=Role.PARENT) for p in parents]
            UserRole.objects.bulk_create(roles, batch_size=batch)
            Guardianship.objects.bulk_create(
                [Guardianship(parent=p, student=s) for p, s in zip(parents, students, strict=True)],
                batch_size=batch,
            )
            study_groups = StudyGroup.objects.bulk_create(
                [
                    StudyGroup(
                        organisation=organisation,
                        name=f"Объединение «{n + 1}»",
                        chat_invite_link=f"https://sferum.ru/?invite={slug}{n}" if n % 4 else "",
                    )
                    for n in range(groups)
                ],
                batch_size=batch,
            )
            # Each teacher in one group, each student in one: the teacher and the child who
            # sign in each have one group, in every institution.
            StudyGroup.teachers.through.objects.bulk_create(
                [
                    StudyGroup.teachers.through(studygroup=study_groups[n % groups], user=t)
                    for n, t in enumerate(teachers)
                    if n != 1
                ],
                batch_size=batch,
            )
            StudyGroup.students.through.objects.bulk_create(
                [
                    StudyGroup.students.through(studygroup=study_groups[n % groups], user=s)
                    for n, s in enumerate(students)
                ],
                batch_size=batch,
            )
            director = teachers[1]
            document = Document.objects.create(organisation=organisation, code=REGULATION_CODE)
            DocumentVersion.objects.create(
                document=document,
                number=1,
                title=demo_version.title,
                text=demo_version.text,
                order_number=f"{self.built}-од",
                order_date=today - dt.timedelta(days=20),
                approver_position="Директор",
                approver_name="А.Б. Руководитель",
                status=VersionStatus.APPROVED,
                text_sha256=demo_version.text_sha256,
                read_by=today + dt.timedelta(days=10),
            )
            TeacherSferumStatus.objects.bulk_create(
                [
                    TeacherSferumStatus(person=p, status=SferumStatus.VERIFIED)
                    for n, p in enumerate(teachers)
                    if n % 10 < 7 and n != 1
                ],
                batch_size=batch,
            )
            notice = ParentNotice.objects.create(
                organisation=organisation, text="Уведомление родителям.", published_by=director
            )
            NoticeAcknowledgement.objects.bulk_create(
                [
                    NoticeAcknowledgement(notice=notice, parent=p)
                    for n, p in enumerate(parents)
                    if n % 5 in (1, 2, 3)
                ],
                batch_size=batch,
            )
            text = ConsentText.objects.create(
                organisation=organisation, text="Согласие.", text_sha256="0" * 64
            )
            ConsentRecord.objects.bulk_create(
                [
                    ConsentRecord(
                        parent=p, student=s, action=ConsentAction.GIVEN, consent_text=text
                    )
                    for n, (p, s) in enumerate(zip(parents, students, strict=True))
                    if n % 2
                ],
                batch_size=batch,
            )
            statuses = [s for s, _ in RequestStatus.choices]
            RegistrationRequest.objects.create(
                organisation=organisation,
                status=statuses[self.built % len(statuses)],
                appointee=teachers[0],
                admin_full_name=teachers[0].full_name,
            )
        if confirmed:
            self.confirm_share(organisation)
        self.mark_changed(organisation, "built")
        return organisation

    def mark_changed(self, organisation, what: str) -> None:
        """An audit entry for the bulk change, as the services write one for every change:
        the numbers the pages keep in the cache (`cdt_portal.numbers.counted_once`) are keyed by
        the organisation's newest entry, so no process serves numbers from before the load."""
        from cdt_portal.models import AuditEntry

        AuditEntry.objects.create(
            organisation=organisation,
            actor_name="benchmarks/scale.py",
            action=f"bench.{what}",
            data={"note": "bulk load by the scale benchmark"},
        )

    def confirm_share(self, organisation, share: float = 0.6) -> int:
        """`share` of the staff still pending confirm the regulation, online or on paper
        (bulk); those who sign in stay pending. Raises the sheet's revision counters."""
        from django.db.models import F
        from django.utils import timezone

        from accounts.models import Organisation
        from acknowledgements.models import (
            REGULATION_CODE,
            AckMethod,
            Acknowledgement,
        )
        from acknowledgements.selectors import current_version, pending_readers
        from acknowledgements.sheet import sheet_changed

        version = current_version(organisation, REGULATION_CODE)
        pending = list(
            pending_readers(version)
            .exclude(username__startswith=f"{organisation.slug}-a")
            .exclude(username=f"{organisation.slug}-teacher")
            .only("pk")
        )
        today = timezone.localdate()
        admin = organisation.users.get(username=f"{organisation.slug}-admin")
        chosen = [p for n, p in enumerate(pending) if n % 10 < share * 10]
        Acknowledgement.objects.bulk_create(
            [
                Acknowledgement(
                    version=version,
                    person=p,
                    method=AckMethod.ONLINE if n % 4 else AckMethod.PAPER,
                    acknowledged_on=today - dt.timedelta(days=n % 20),
                    recorded_by=p if n % 4 else admin,
                    text_sha256=version.text_sha256,
                )
                for n, p in enumerate(chosen)
            ],
            batch_size=2000,
        )
        # What the services do when acknowledgements change (these inserts bypass them): a
        # stored sheet is named by these counters.
        Organisation.objects.filter(pk=organisation.pk).update(
            people_revision=F("people_revision") + 1
        )
        sheet_changed(version.pk)
        self.mark_changed(organisation, "confirmed")
        return len(chosen)

    def build(self) -> None:
        """The department (`--institutions` × `--staff` staff, 2 students and 2 parents a
        staff member, `--groups` groups each), its officer, and outside it an institution of
        `--big` staff and one of a tenth of that, nobody confirmed yet in those two."""
        from accounts.models import Department, Role, User, UserRole

        started = time.perf_counter()
        self.built = 0
        self.real_hash = make_real_hash()
        department = Department.objects.create(
            slug="scale-uo",
            full_name="Управление образования замера масштаба",
            short_name="УО замера",
        )
        self.department = department
        self.officer = User.objects.create(
            username="scale-department",
            last_name="Замерова",
            first_name="Анна",
            patronymic="Петровна",
            department=department,
            password=self.real_hash,
        )
        UserRole.objects.create(user=self.officer, role=Role.DEPARTMENT)
        count, staff = self.args.institutions, self.args.staff
        self.small_slug = f"d{count // 2:03d}"
        for i in range(count):
            self.build_institution(
                f"d{i:03d}",
                department=department,
                staff=staff,
                families=2 * staff,
                groups=self.args.groups,
                confirmed=True,
                name=f"Центр творчества № {i + 1}",
            )
            if (i + 1) % 10 == 0 or i + 1 == count:
                say(f"  {i + 1} institutions built ({time.perf_counter() - started:.0f} s)")
        people = User.objects.filter(organisation__department=department).count()
        build_s = time.perf_counter() - started
        say(f"department: {count} institutions, {people} people in {build_s:.0f} s")
        big = self.args.big
        self.organisations = {
            "small": self.built_org(self.small_slug),
            "big": self.build_institution(
                "big", department=None, staff=big, families=big // 5, groups=big // 100,
                confirmed=False, name="Большой центр",
            ),
            "tenth": self.build_institution(
                "tenth", department=None, staff=big // 10, families=big // 50,
                groups=big // 1000, confirmed=False, name="Центр поменьше",
            ),
        }  # fmt: skip
        self.info["department"] = {
            "institutions": count,
            "people": people,
            "staff_each": staff,
            "groups_each": self.args.groups,
            "build_s": round(build_s, 1),
        }
        self.info["build_s"] = round(time.perf_counter() - started, 1)
        say(f"built everything in {self.info['build_s']:.0f} s")

    def built_org(self, slug: str):
        from accounts.models import Organisation

        return Organisation.objects.get(slug=slug)

    def staff_count(self, size: str) -> int:
        from acknowledgements.selectors import staff

        return staff(self.organisations[size]).count()

    def version(self, size: str):
        from acknowledgements.models import REGULATION_CODE
        from acknowledgements.selectors import current_version

        return current_version(self.organisations[size], REGULATION_CODE)

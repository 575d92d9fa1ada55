"""The staff the benchmarks build: Russian-looking names with variety, and the demo
organisation grown to a number of staff. run.py grows it size by size; jobs.py and scale.py use
it and its names too."""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth.hashers import make_password

# --- staff: Russian-looking names with variety --------------------------------------------

SURNAMES = (
    "Иванов Петров Смирнов Кузнецов Попов Васильев Соколов Михайлов Новиков Фёдоров Морозов "
    "Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев "
    "Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв "
    "Сергеев Фролов Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов Поляков Сорокин "
    "Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов Филиппов Комаров Давыдов "
    "Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов "
    "Карпов Власов Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев "
    "Тимофеев Фомин Чернов Абрамов Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев "
    "Чернышёв Быков Маслов Родионов Коновалов Лазарев Воронин Климов Филатов Пономарёв "
    "Голубев Кудрявцев Прохоров Наумов Потапов Журавлёв Овчинников Трофимов Леонов Соболев "
    "Ермаков Колесников Гончаров Емельянов Никифоров Грачёв Котов Гришин Ефремов Архипов "
    "Громов Кириллов Малышев Панов Моисеев Румянцев Акимов Кондратьев Бирюков Горбунов "
    "Анисимов Ерёмин Тихомиров Галкин Лукьянов Михеев Скворцов Юдин Белоусов Нестеров "
    "Симонов Прокофьев Харитонов Князев Цветков Митрофанов Воронов Аксёнов Мальцев Логинов "
    "Горшков Савин Краснов Майоров Демидов Елисеев Рыбаков Сафонов Плотников Дёмин Хохлов "
    "Жданов Покровский Вознесенский Успенский Троицкий Белозерский Шевченко Черных Седых"
).split()
MALE_NAMES = (
    "Александр Алексей Андрей Антон Артём Борис Вадим Валентин Валерий Василий Виктор "
    "Виталий Владимир Владислав Геннадий Георгий Григорий Даниил Денис Дмитрий Евгений Егор "
    "Иван Игорь Илья Кирилл Константин Леонид Максим Михаил Никита Николай Олег Павел Пётр "
    "Роман Руслан Сергей Станислав Степан Тимур Фёдор Юрий Ярослав"
).split()
FEMALE_NAMES = (
    "Александра Алина Алла Анастасия Анна Антонина Валентина Валерия Вера Виктория Галина "
    "Дарья Евгения Екатерина Елена Елизавета Жанна Зинаида Зоя Инна Ирина Карина Кристина "
    "Ксения Лариса Лидия Любовь Людмила Маргарита Марина Мария Надежда Наталья Нина Оксана "
    "Ольга Полина Светлана Софья Тамара Татьяна Ульяна Юлия Яна"
).split()
PATRONYMICS = [
    pair.split("/")
    for pair in (
        "Александрович/Александровна Алексеевич/Алексеевна Андреевич/Андреевна "
        "Борисович/Борисовна Васильевич/Васильевна Викторович/Викторовна "
        "Владимирович/Владимировна Геннадьевич/Геннадьевна Григорьевич/Григорьевна "
        "Дмитриевич/Дмитриевна Евгеньевич/Евгеньевна Иванович/Ивановна Игоревич/Игоревна "
        "Ильич/Ильинична Константинович/Константиновна Михайлович/Михайловна "
        "Николаевич/Николаевна Олегович/Олеговна Павлович/Павловна Петрович/Петровна "
        "Сергеевич/Сергеевна Степанович/Степановна Фёдорович/Фёдоровна Юрьевич/Юрьевна "
        "Анатольевич/Анатольевна Валерьевич/Валерьевна Романович/Романовна Львович/Львовна "
        "Кузьмич/Кузьминична Ярославович/Ярославовна"
    ).split()
]
POSITIONS = [
    "педагог дополнительного образования",
    "педагог дополнительного образования",
    "педагог дополнительного образования",
    "педагог-организатор",
    "методист",
    "концертмейстер",
    "тренер-преподаватель",
    "педагог-психолог",
    "",
]


def female_surname(surname: str) -> str:
    if surname.endswith("ий"):
        return surname[:-2] + "ая"
    if surname.endswith(("ов", "ев", "ёв", "ин")):
        return surname + "а"
    return surname  # Шевченко, Черных: the same for both


def fake_person(rng: random.Random) -> tuple[str, str, str, str]:
    """(last_name, first_name, patronymic, position); most teachers are women."""
    surname = rng.choice(SURNAMES)
    male_patronymic, female_patronymic = rng.choice(PATRONYMICS)
    if rng.random() < 0.8:
        last, first, middle = female_surname(surname), rng.choice(FEMALE_NAMES), female_patronymic
    else:
        last, first, middle = surname, rng.choice(MALE_NAMES), male_patronymic
    return last, first, middle, rng.choice(POSITIONS)


class Portal:
    """The demo organisation, grown to a number of staff (people on the acknowledgement sheet)."""

    def __init__(self) -> None:
        from accounts.models import User
        from portal.demo import load_demo

        self.rng = random.Random(201)
        self.organisation = load_demo()
        self.admin = User.objects.get(username="admin")
        self.director = User.objects.get(username="director")
        self.teacher = User.objects.get(username="teacher")
        self.added = 0
        # About half of the seed's 14 staff have read the regulation; the sign-ins have not,
        # so their own pages look the same at every size.
        others = [p for p in self.readers() if p.pk not in {self.admin.pk, self.teacher.pk}]
        self.acknowledge(others[::2])

    def version(self):
        from acknowledgements.models import REGULATION_CODE
        from acknowledgements.selectors import current_version

        return current_version(self.organisation, REGULATION_CODE)

    def readers(self):
        from acknowledgements.selectors import staff

        return staff(self.organisation)

    def staff_count(self) -> int:
        return self.readers().count()

    def acknowledge(self, people) -> None:
        from acknowledgements.models import AckMethod, Acknowledgement

        version = self.version()
        first = version.order_date
        span = max((dt.date.today() - first).days, 0)
        Acknowledgement.objects.bulk_create(
            [
                Acknowledgement(
                    version=version,
                    person=person,
                    method=AckMethod.ONLINE,
                    acknowledged_on=first + dt.timedelta(days=self.rng.randint(0, span)),
                    recorded_by=person,
                    ip_address=None,
                    user_agent="",
                    text_sha256=version.text_sha256,
                )
                for person in people
            ],
            batch_size=500,
        )

    def grow_to(self, size: int) -> None:
        """Add teachers (unusable passwords, role rows) until the sheet has `size` people;
        every second new one has confirmed online."""
        from accounts.models import Role, User, UserRole

        missing = size - self.staff_count()
        if missing <= 0:
            return
        users = []
        for _ in range(missing):
            self.added += 1
            last, first, middle, position = fake_person(self.rng)
            users.append(
                User(
                    username=f"bench-{self.added:06d}",
                    organisation=self.organisation,
                    last_name=last,
                    first_name=first,
                    patronymic=middle,
                    position=position,
                    password=make_password(None),
                    is_active=True,
                )
            )
        User.objects.bulk_create(users, batch_size=500)
        # Not every database returns primary keys from a bulk insert: read them back.
        names = [u.username for u in users]
        created = []
        for start in range(0, len(names), 500):
            created += list(
                User.objects.filter(username__in=names[start : start + 500]).order_by("username")
            )
        UserRole.objects.bulk_create(
            [UserRole(user=u, role=Role.TEACHER) for u in created], batch_size=500
        )
        self.acknowledge(created[::2])

import factory

from accounts.models import Guardianship, Organisation, Role, StudyGroup, User, UserRole


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    slug = factory.Sequence(lambda n: f"org{n}")
    full_name = factory.Sequence(lambda n: f"Муниципальное учреждение «Школа № {n}»")
    short_name = factory.Sequence(lambda n: f"МУ «Школа № {n}»")
    head_position = "Директор"
    head_name = "И.И. Иванов"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    username = factory.Sequence(lambda n: f"user{n}")
    last_name = "Петрова"
    first_name = "Анна"
    patronymic = "Сергеевна"
    password = factory.django.Password("pass-1234")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            UserRole.objects.bulk_create([UserRole(user=self, role=r) for r in extracted])
            self.__dict__.pop("roles", None)


class StudyGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StudyGroup
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Объединение {n}")


class GuardianshipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Guardianship


PASSWORD = "pass-1234"
ALL_ROLES = list(Role.values)

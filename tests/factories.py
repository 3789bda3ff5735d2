"""factory_boy factories for the domain; personas are built from them in conftest.py."""

from typing import TYPE_CHECKING, Any

import factory

from partners.models import Membership, Organisation, OrganisationKind, User


class OrganisationFactory(factory.django.DjangoModelFactory):
    if TYPE_CHECKING:  # factory_boy's metaclass makes OrganisationFactory() create and return an Organisation

        def __new__(cls, *args: Any, **kwargs: Any) -> Organisation: ...  # type: ignore[misc]

    class Meta:
        model = Organisation
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"ORG{n:03d}")
    name = factory.LazyAttribute(lambda o: f"{o.code.title()} Ltd")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} (legal)")
    kinds = factory.LazyFunction(lambda: [OrganisationKind.CUSTOMER])
    default_currency = "EUR"


class UserFactory(factory.django.DjangoModelFactory):
    if TYPE_CHECKING:  # factory_boy's metaclass makes UserFactory() create and return a User

        def __new__(cls, *args: Any, **kwargs: Any) -> User: ...  # type: ignore[misc]

    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def save_password(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    if TYPE_CHECKING:  # factory_boy's metaclass makes MembershipFactory() create and return a Membership

        def __new__(cls, *args: Any, **kwargs: Any) -> Membership: ...  # type: ignore[misc]

    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = "customer"

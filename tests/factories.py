"""factory_boy factories for the domain; personas are built from them in conftest.py."""

import factory

from partners.models import Membership, Organisation, OrganisationKind, User


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"ORG{n:03d}")
    name = factory.LazyAttribute(lambda o: f"{o.code.title()} Ltd")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} (legal)")
    kinds = factory.LazyFunction(lambda: [OrganisationKind.CUSTOMER])
    default_currency = "EUR"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = "customer"

"""factory_boy factories for the platform models."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group

from suite.access.roles import Role
from suite.identity.models import Organization, Team, TeamMembership, TeamRole, User
from tests.access_app.models import Folder, FolderAccess


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Administration {n}")
    registration_id = factory.Sequence(lambda n: f"{13002526500000 + n}")
    mail_domains = factory.LazyAttribute(lambda o: [f"{o.registration_id}.gouv.fr"])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"agent{n}@example.gouv.fr")
    full_name = factory.Faker("name", locale="fr_FR")
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def _save(self, create, extracted, **kwargs):
        if create:
            self.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    group = factory.LazyFunction(lambda: Group.objects.create(name=f"team:{factory.Faker._get_faker().uuid4()}"))


class TeamMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMembership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = TeamRole.MEMBER


_root_counter = iter(range(10**9))


class FolderFactory(factory.django.DjangoModelFactory):
    """A folder; give ``parent=`` to nest it."""

    class Meta:
        model = Folder

    title = factory.Sequence(lambda n: f"Folder {n}")

    @classmethod
    def _create(cls, model_class, *args, parent=None, **kwargs):
        from suite.access.models import path_segment

        if parent is None:
            kwargs["path"] = path_segment(next(_root_counter))
            kwargs["depth"] = 1
        else:
            siblings = Folder.objects.filter(path__startswith=parent.path, depth=parent.depth + 1).count()
            kwargs["path"] = parent.path + path_segment(siblings)
            kwargs["depth"] = parent.depth + 1
        return super()._create(model_class, *args, **kwargs)


class FolderAccessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FolderAccess

    resource = factory.SubFactory(FolderFactory)
    role = Role.READER

"""factory_boy factories for the documents product. Paths come from ``docs_app.tree`` (the
same allocation as the services), so factory-made trees are indistinguishable from real ones."""

from __future__ import annotations

import factory

from docs_app.models import Document, DocumentAccess
from suite.access.models import PATH_STEP
from suite.access.roles import Role
from tests.factories import UserFactory


class DocumentFactory(factory.django.DjangoModelFactory):
    """A document; ``parent=`` nests it (last among its siblings)."""

    class Meta:
        model = Document

    title = factory.Sequence(lambda n: f"Document {n}")
    creator = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, *args, parent=None, **kwargs):
        from docs_app.tree import new_child_path, new_root_path

        path = new_root_path() if parent is None else new_child_path(parent.pk)
        kwargs["path"] = path
        kwargs["depth"] = len(path) // PATH_STEP
        if "position" not in kwargs:
            kwargs["position"] = float(int(path[-PATH_STEP:], 36) + 1)
        return super()._create(model_class, *args, **kwargs)


class DocumentAccessFactory(factory.django.DjangoModelFactory):
    """A role on a document for a user (default) or, with ``team=``, a team."""

    class Meta:
        model = DocumentAccess

    resource = factory.SubFactory(DocumentFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.READER

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        if kwargs.get("team") is not None:
            kwargs["user"] = None
        return super()._create(model_class, *args, **kwargs)

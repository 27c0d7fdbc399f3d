"""Fixtures of the documents product tests."""

from __future__ import annotations

import pytest

from docs_app.models import DocumentAccess
from suite.access.roles import Role
from tests.docs_app import factories_comments
from tests.docs_app.factories import DocumentAccessFactory, DocumentFactory
from tests.docs_app.factories_sharing import make_cast
from tests.factories import TeamMembershipFactory, UserFactory

API = "/api/v1/documents/"


@pytest.fixture
def make_document(db):
    """``make_document(owner=user, parent=None, **fields)``: a document; a root made with an
    ``owner`` gets that owner's access, like one created through the API."""

    def make(owner=None, parent=None, **fields):
        document = DocumentFactory(parent=parent, creator=owner or UserFactory(), **fields)
        if owner is not None and parent is None:
            DocumentAccessFactory(resource=document, user=owner, role=Role.OWNER)
        return document

    return make


@pytest.fixture
def grant(db):
    """``grant(document, user_or_team, role)``: an explicit access."""
    from suite.identity.models import Team

    def make(document, principal, role):
        if isinstance(principal, Team):
            return DocumentAccessFactory(resource=document, team=principal, user=None, role=role)
        return DocumentAccessFactory(resource=document, user=principal, role=role)

    return make


@pytest.fixture
def team_member(db):
    """``team_member()`` → (team, user): a user and a team they belong to."""

    def make():
        membership = TeamMembershipFactory()
        return membership.team, membership.user

    return make


@pytest.fixture
def document(user):
    """A root document owned by ``user``."""
    document = factories_comments.make_document(title="Rapport annuel")
    DocumentAccess.objects.create(resource=document, user=user, role=Role.OWNER)
    return document


@pytest.fixture
def commenter(document):
    """A user who may comment on ``document``."""
    person = UserFactory(full_name="Camille Commentatrice")
    DocumentAccess.objects.create(resource=document, user=person, role=Role.COMMENTER)
    return person


@pytest.fixture
def cast():
    """A restricted document and one user per role (``factories_sharing.Cast``)."""
    return make_cast()

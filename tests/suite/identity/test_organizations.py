"""Users are attached to their organization from claims (registration id) or email domain."""

from __future__ import annotations

import pytest

from suite.identity.models import Organization
from suite.identity.services import organization_for, user_create
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_registration_id_creates_then_reuses_the_organization():
    first = organization_for(registration_id="13002526500013", name="DINUM")
    again = organization_for(registration_id="13002526500013", name="Another name")
    assert first == again and Organization.objects.count() == 1
    assert again.name == "DINUM"  # an established name is not overwritten by a claim


def test_placeholder_name_is_replaced_by_the_real_one():
    organization_for(registration_id="11000201100044")
    named = organization_for(registration_id="11000201100044", name="Ministère")
    assert named.name == "Ministère"


def test_email_domain_attaches_to_a_configured_organization():
    org = OrganizationFactory(mail_domains=["interieur.gouv.fr"])
    assert organization_for(email="Agent@Interieur.Gouv.Fr") == org
    assert organization_for(email="agent@example.com") is None
    assert organization_for() is None


def test_user_created_with_domain_gets_organization():
    org = OrganizationFactory(mail_domains=["culture.gouv.fr"])
    assert user_create(email="agent@culture.gouv.fr").organization == org
    assert user_create(email="agent@elsewhere.fr").organization is None

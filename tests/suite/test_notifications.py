"""Emails are translated into the recipient's language."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils.translation import gettext_noop

from suite.notifications import send_email
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_email_in_the_users_language(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = UserFactory(language="fr", full_name="Camille")
    sent = send_email(to=user, subject=gettext_noop("Welcome to Communs"), template="suite/email/welcome",
                      context={"name": user.full_name})
    assert sent == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.subject == "Bienvenue sur Communs"
    assert "Bonjour Camille," in message.body
    assert "Votre compte Communs est prêt." in message.alternatives[0][0]


def test_email_to_an_address_uses_the_given_language(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_email(to="invitee@example.org", subject=gettext_noop("Welcome to Communs"),
               template="suite/email/welcome", context={"name": "Sam"}, language="en")
    assert mail.outbox[0].subject == "Welcome to Communs"
    assert mail.outbox[0].body.startswith("Hello Sam,")


def test_unknown_language_falls_back_to_default(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_email(to="x@example.org", subject=gettext_noop("Welcome to Communs"), template="suite/email/welcome",
               context={"name": "X"}, language="tlh")
    assert mail.outbox[0].subject == "Welcome to Communs"

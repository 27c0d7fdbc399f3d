"""Translated emails to users and invitees.

Emails are rendered in the recipient's language (their profile's, else the given one, else
``LANGUAGE_CODE``), from a text template and an optional HTML template, and sent through
Django's configured email backend. Apps call :func:`send_email` from a task or on commit,
never inside a transaction that could still roll back.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_noop

#: Subject of the welcome email (message ids are translated at send time).
WELCOME_SUBJECT = gettext_noop("Welcome to Communs")


def recipient_language(recipient: Any, fallback: str | None = None) -> str:
    language = getattr(recipient, "language", None) or fallback or settings.LANGUAGE_CODE
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def send_email(
    *,
    to: Any,
    subject: str,
    template: str,
    context: dict[str, Any] | None = None,
    language: str | None = None,
) -> int:
    """Send ``template`` (``<template>.txt``, and ``<template>.html`` if it exists) to ``to``
    (a user, or an email address). ``subject`` is a translatable message id, translated here
    in the recipient's language. Returns the number of messages sent (0 or 1)."""
    address = to if isinstance(to, str) else to.email
    context = {"site_url": settings.SUITE_PUBLIC_URL, **(context or {})}
    with translation.override(recipient_language(to, language)):
        text = render_to_string(f"{template}.txt", context)
        try:
            html: str | None = render_to_string(f"{template}.html", context)
        except TemplateDoesNotExist:
            html = None
        message = EmailMultiAlternatives(
            subject=str(translation.gettext(subject)).replace("\n", " ").strip(),
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
        )
        if html is not None:
            message.attach_alternative(html, "text/html")
        return message.send()

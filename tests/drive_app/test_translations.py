"""Drive errors are answered in the caller's language (the French catalog of drive_app)."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error
from tests.drive_app.conftest import API
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SLASH_TITLE = {"type": "folder", "title": "Budget/2026"}


def test_drive_error_is_in_french_with_accept_language_fr(api):
    response = api(UserFactory()).post(
        f"{API}/items/", json=SLASH_TITLE, headers={"Accept-Language": "fr"}
    )

    error = assert_error(response, 422, "invalid_title")
    assert error["message"] == "Un titre ne peut pas contenir « / » ni « \\ »."
    assert response["Content-Language"] == "fr"


def test_drive_error_is_in_the_users_language_over_accept_language(api):
    response = api(UserFactory(language="fr")).post(
        f"{API}/items/", json=SLASH_TITLE, headers={"Accept-Language": "en"}
    )

    error = assert_error(response, 422, "invalid_title")
    assert error["message"] == "Un titre ne peut pas contenir « / » ni « \\ »."


def test_drive_error_stays_in_english_by_default(api):
    response = api(UserFactory()).post(f"{API}/items/", json=SLASH_TITLE)

    error = assert_error(response, 422, "invalid_title")
    assert error["message"] == "A title cannot contain “/” or “\\”."

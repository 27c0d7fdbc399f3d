"""Share links of drive items: managed by administrators and owners, used without an account
(the Django test client with no Authorization header), on real S3 and PostgreSQL; presigned
URLs (uploads, the owner's downloads) are used with ``requests`` as a browser would. More on
downloads through links in ``test_link_downloads.py``."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from django.contrib.auth.hashers import check_password
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from drive_app.models import FileVersion, Item, ItemAccess, ShareLink
from drive_app.services.links import (
    ACCESS_SALT,
    PASSWORD_ATTEMPTS,
    hash_token,
    issue_access,
    link_download,
)
from suite.access.roles import Role
from suite.errors import SuiteError
from tests.conftest import assert_error
from tests.drive_app.conftest import API, put_bytes, sha256, upload_file
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # on-commit work (S3 deletes, tasks) runs

LINKS = f"{API}/links"
MIB = 1024 * 1024
TEXT = b"Ordre du jour du conseil municipal\n" * 20


def folder(api, user, title, parent=None):
    response = api(user).post(f"{API}/items/", json={"type": "folder", "title": title, "parent": parent})
    assert response.status_code == 201, response.content
    return response.json()


def ready_file(api, user, title, data=TEXT, parent=None):
    response = upload_file(api, user, title, data, parent=parent)
    assert response.status_code == 200, response.content
    return response.json()


def create_link(api, user, item_id, **body):
    response = api(user).post(f"{API}/items/{item_id}/links/", json=body)
    assert response.status_code == 201, response.content
    return response.json()


def open_link(client, token, password=None):
    body = {} if password is None else {"password": password}
    return client.post(f"{LINKS}/{token}/", data=body, content_type="application/json")


def access_of(client, token, password=None):
    response = open_link(client, token, password)
    assert response.status_code == 200, response.content
    return response.json()["access"]


def streamed(response) -> bytes:
    """The body of a download: streamed through the server (never a redirect to S3)."""
    assert response.status_code in (200, 206) and response.streaming, response.status_code
    try:
        return b"".join(response.streaming_content)
    finally:
        response.close()


def visit(client, token, access, path, method="get", json=None):
    headers = {} if access is None else {"X-Link-Access": access}
    if method == "post":
        return client.post(f"{LINKS}/{token}{path}", data=json or {}, content_type="application/json",
                           headers=headers)
    return client.get(f"{LINKS}/{token}{path}", headers=headers)


# --- managing links -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed", "refusal"),
    [
        (None, False, (404, "not_found")),
        (Role.READER, False, (403, "permission_denied")),
        (Role.EDITOR, False, (403, "permission_denied")),
        (Role.ADMINISTRATOR, True, None),
        (Role.OWNER, True, None),
    ],
    ids=["stranger", "reader", "editor", "administrator", "owner"],
)
def test_manage_links_needs_administrator(api, role, allowed, refusal):
    alice, bob = UserFactory(), UserFactory()
    shared = folder(api, alice, "Partage")
    if role is not None:
        ItemAccess.objects.create(resource_id=shared["id"], user=bob, role=role)
    existing = create_link(api, alice, shared["id"])
    base = f"{API}/items/{shared['id']}/links/"
    calls = {
        "create": lambda: api(bob).post(base, json={"role": "reader"}),
        "list": lambda: api(bob).get(base),
        "update": lambda: api(bob).patch(f"{base}{existing['id']}/", json={"max_downloads": 5}),
        "revoke": lambda: api(bob).delete(f"{base}{existing['id']}/"),
    }
    for name, call in calls.items():
        response = call()
        if allowed:
            assert response.status_code == {"create": 201, "list": 200, "update": 200, "revoke": 204}[name], (
                name, response.content)
        else:
            assert_error(response, *refusal)
    link = ShareLink.objects.get(pk=existing["id"])
    assert (link.revoked_at is not None) is allowed
    assert (link.max_downloads == 5) is allowed
    assert ShareLink.objects.filter(item_id=shared["id"]).count() == (2 if allowed else 1)


def test_create_shows_the_token_once_and_stores_its_hash(api, settings):
    settings.SUITE_PUBLIC_URL = "https://drive.example.gouv.fr"
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    expires_at = (timezone.now() + dt.timedelta(days=7)).replace(microsecond=0)
    created = create_link(api, alice, item["id"], password="s3cret-pass", expires_at=expires_at.isoformat(),
                          max_downloads=3)
    token = created["token"]
    assert created["url"] == f"https://drive.example.gouv.fr/s/{token}"
    assert created["role"] == "reader" and created["has_password"] is True and created["max_downloads"] == 3
    assert created["token_prefix"] == token[:8] and created["download_count"] == 0
    assert created["expired"] is False and created["revoked"] is False and created["created_by"] == str(alice.pk)
    link = ShareLink.objects.get(pk=created["id"])
    assert link.token_hash == hash_token(token) and token not in link.token_hash
    assert link.password_hash != "s3cret-pass" and check_password("s3cret-pass", link.password_hash)
    # Two links on the same item; the list never shows a secret.
    create_link(api, alice, item["id"])
    listed = api(alice).get(f"{API}/items/{item['id']}/links/").json()
    assert listed["count"] == 2
    for row in listed["items"]:
        assert "token" not in row and "url" not in row and "password" not in row
    assert listed["items"][1]["id"] == created["id"] and listed["items"][1]["has_password"] is True
    assert listed["items"][0]["has_password"] is False


def test_create_and_update_refuse_bad_input(api):
    alice = UserFactory()
    shared = folder(api, alice, "Dépôt")
    item = ready_file(api, alice, "a.txt")
    base = f"{API}/items/{item['id']}/links/"
    assert_error(api(alice).post(base, json={"role": "editor"}), 422, "link_role_invalid")  # files: reader only
    assert_error(api(alice).post(base, json={"role": "owner"}), 422, "validation_error")
    assert_error(api(alice).post(base, json={"password": "short"}), 422, "validation_error")
    past = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    assert_error(api(alice).post(base, json={"expires_at": past}), 422, "validation_error")
    assert_error(api(alice).post(base, json={"expires_at": "2999-01-01T00:00:00"}), 422, "validation_error")
    assert_error(api(alice).post(base, json={"max_downloads": 0}), 422, "validation_error")
    assert ShareLink.objects.count() == 0
    link = create_link(api, alice, shared["id"], role="editor")
    url = f"{API}/items/{shared['id']}/links/{link['id']}/"
    assert_error(api(alice).patch(url, json={"expires_at": past}), 422, "validation_error")
    assert_error(api(alice).patch(url, json={"role": None}), 422, "validation_error")  # never null
    assert_error(api(alice).patch(f"{API}/items/{shared['id']}/links/not-an-id/", json={}), 404, "link_not_found")
    assert_error(api(alice).patch(f"{API}/items/{item['id']}/links/{link['id']}/", json={}), 404, "link_not_found")
    updated = api(alice).patch(url, json={"role": "reader", "password": "nouveau-mdp", "max_downloads": 2})
    assert updated.status_code == 200, updated.content
    assert updated.json()["role"] == "reader" and updated.json()["has_password"] is True
    cleared = api(alice).patch(url, json={"password": None, "max_downloads": None}).json()
    assert cleared["has_password"] is False and cleared["max_downloads"] is None and cleared["role"] == "reader"


# --- using a link without an account ---------------------------------------------------------------------


def test_file_link_opens_and_downloads_without_an_account(api, client):
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    token = create_link(api, alice, item["id"])["token"]
    opened = open_link(client, token)
    assert opened.status_code == 200, opened.content
    body = opened.json()
    assert body["item"] == {
        "id": item["id"], "type": "file", "title": "cr.txt", "parent": None, "size": len(TEXT),
        "mimetype": "text/plain", "upload_state": "ready", "role": "reader",
        "updated_at": body["item"]["updated_at"], "upload": None, "multipart": None,
    }
    assert set(body) == {"item", "access", "access_expires_at"}
    download = visit(client, token, body["access"], f"/items/{item['id']}/download/")
    assert download.status_code == 200 and streamed(download) == TEXT
    assert download["Content-Disposition"] == 'attachment; filename="cr.txt"'
    assert ShareLink.objects.get(token_hash=hash_token(token)).download_count == 1
    # Someone with an account uses the link the same way.
    bob = UserFactory()
    assert api(bob).post(f"{LINKS}/{token}/").status_code == 200
    assert_error(open_link(client, "no-such-token"), 404, "link_not_found")


def test_link_access_header_is_required_and_checked(api, client):
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    other = ready_file(api, alice, "autre.txt")
    token = create_link(api, alice, item["id"])["token"]
    other_token = create_link(api, alice, other["id"])["token"]
    access = access_of(client, token)
    path = f"/items/{item['id']}/"
    assert visit(client, token, access, path).status_code == 200
    assert_error(visit(client, token, None, path), 401, "link_access_required")
    assert_error(visit(client, token, access[:-2] + ("AA" if not access.endswith("AA") else "BB"), path),
                 401, "link_access_invalid")
    link = ShareLink.objects.get(token_hash=hash_token(token))
    expired, _until = issue_access(link, ttl=-1)
    assert_error(visit(client, token, expired, path), 401, "link_access_invalid")
    # Another link's access does not open this one; a payload signed with another salt neither.
    assert_error(visit(client, token, access_of(client, other_token), path), 401, "link_access_invalid")
    forged = signing.dumps({"l": str(link.pk), "p": "", "x": 2**40}, salt="something-else")
    assert_error(visit(client, token, forged, path), 401, "link_access_invalid")
    assert signing.loads(access, salt=ACCESS_SALT)["l"] == str(link.pk)


def test_password_required_wrong_right_and_rate_limited(api, client):
    alice = UserFactory()
    item = ready_file(api, alice, "secret.txt")
    created = create_link(api, alice, item["id"], password="correct horse")
    token = created["token"]
    assert_error(open_link(client, token), 401, "link_password_required")
    assert_error(open_link(client, token, "wrong password"), 403, "link_password_invalid")
    access = access_of(client, token, "correct horse")
    assert visit(client, token, access, f"/items/{item['id']}/").status_code == 200
    for _attempt in range(PASSWORD_ATTEMPTS - 1):  # one wrong attempt was made above
        assert_error(open_link(client, token, "wrong password"), 403, "link_password_invalid")
    # Past the limit even the right password is refused (for this IP and link), with Retry-After.
    limited = open_link(client, token, "correct horse")
    assert_error(limited, 429, "rate_limited")
    assert limited["Retry-After"] == "60"
    other_ip = client.post(f"{LINKS}/{token}/", data={"password": "correct horse"},
                           content_type="application/json", REMOTE_ADDR="10.0.0.7")
    assert other_ip.status_code == 200, other_ip.content
    # A new password ends the sessions opened with the old one; so does clearing it.
    url = f"{API}/items/{item['id']}/links/{created['id']}/"
    assert api(alice).patch(url, json={"password": "battery staple"}).status_code == 200
    assert_error(visit(client, token, access, f"/items/{item['id']}/"), 401, "link_access_invalid")
    fresh = other_ip.json()["access"]
    assert_error(visit(client, token, fresh, f"/items/{item['id']}/"), 401, "link_access_invalid")
    newer = client.post(f"{LINKS}/{token}/", data={"password": "battery staple"},
                        content_type="application/json", REMOTE_ADDR="10.0.0.8").json()["access"]
    assert api(alice).patch(url, json={"password": None}).status_code == 200
    assert_error(visit(client, token, newer, f"/items/{item['id']}/"), 401, "link_access_invalid")
    assert open_link(client, token, "anything").status_code == 200  # no password any more


def test_expired_link_is_gone(api, client):
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    created = create_link(api, alice, item["id"])
    token = created["token"]
    access = access_of(client, token)
    ShareLink.objects.filter(pk=created["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert_error(open_link(client, token), 410, "link_expired")
    assert_error(visit(client, token, access, f"/items/{item['id']}/download/"), 410, "link_expired")
    listed = api(alice).get(f"{API}/items/{item['id']}/links/").json()["items"]
    assert listed[0]["expired"] is True
    # Extending it brings it back.
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert api(alice).patch(f"{API}/items/{item['id']}/links/{created['id']}/",
                            json={"expires_at": later}).status_code == 200
    assert visit(client, token, access, f"/items/{item['id']}/").status_code == 200


def test_download_limit(api, client):
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    created = create_link(api, alice, item["id"], max_downloads=2)
    token = created["token"]
    access = access_of(client, token)
    for _download in range(2):
        response = visit(client, token, access, f"/items/{item['id']}/download/")
        assert response.status_code == 200 and streamed(response) == TEXT
    assert_error(visit(client, token, access, f"/items/{item['id']}/download/"), 410, "link_download_limit")
    assert_error(open_link(client, token), 410, "link_download_limit")
    link = ShareLink.objects.get(pk=created["id"])
    assert link.download_count == 2
    row = api(alice).get(f"{API}/items/{item['id']}/links/").json()["items"][0]
    assert row["download_count"] == 2 and row["downloads_exhausted"] is True
    # Raising the limit gives one more download.
    api(alice).patch(f"{API}/items/{item['id']}/links/{created['id']}/", json={"max_downloads": 3})
    assert streamed(visit(client, token, access, f"/items/{item['id']}/download/")) == TEXT
    assert_error(visit(client, token, access, f"/items/{item['id']}/download/"), 410, "link_download_limit")


def test_download_limit_holds_for_requests_that_checked_the_link_before(api):
    """Parallel requests all read the link before any counts: the conditional UPDATE, not
    that earlier read, decides (a link object read when nothing was downloaded yet)."""
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    created = create_link(api, alice, item["id"], max_downloads=2)
    stale = ShareLink.objects.select_related("item").get(pk=created["id"])
    for _download in range(2):
        with link_download(link=stale, item_id=item["id"]).reader as reader:
            assert reader.read() == TEXT
    with pytest.raises(SuiteError) as refused:
        link_download(link=stale, item_id=item["id"])
    assert (refused.value.status, refused.value.code) == (410, "link_download_limit")
    assert ShareLink.objects.get(pk=created["id"]).download_count == 2


def test_revoked_link_is_not_found_at_once(api, client):
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    created = create_link(api, alice, item["id"])
    token = created["token"]
    access = access_of(client, token)
    url = f"{API}/items/{item['id']}/links/{created['id']}/"
    assert api(alice).delete(url).status_code == 204
    assert_error(open_link(client, token), 404, "link_not_found")
    assert_error(visit(client, token, access, f"/items/{item['id']}/download/"), 404, "link_not_found")
    assert api(alice).delete(url).status_code == 204  # idempotent
    assert_error(api(alice).patch(url, json={"max_downloads": 1}), 409, "link_revoked")
    assert api(alice).get(f"{API}/items/{item['id']}/links/").json()["items"][0]["revoked"] is True


def test_folder_link_browses_its_subtree_only(api, client):
    alice = UserFactory()
    shared = folder(api, alice, "Partagé")
    inner = folder(api, alice, "Sous-dossier", parent=shared["id"])
    inside = ready_file(api, alice, "dedans.txt", parent=inner["id"])
    ready_file(api, alice, "racine.txt", parent=shared["id"])
    private = folder(api, alice, "Privé")
    outside = ready_file(api, alice, "dehors.txt", parent=private["id"])
    token = create_link(api, alice, shared["id"])["token"]
    opened = open_link(client, token).json()
    access = opened["access"]
    assert opened["item"]["id"] == shared["id"] and opened["item"]["parent"] is None
    children = visit(client, token, access, f"/items/{shared['id']}/children/").json()
    assert [c["title"] for c in children["items"]] == ["Sous-dossier", "racine.txt"]  # folders first
    assert children["items"][0]["parent"] == shared["id"]
    assert [c["id"] for c in visit(client, token, access, f"/items/{inner['id']}/children/").json()["items"]] == [
        inside["id"]]
    assert visit(client, token, access, f"/items/{inside['id']}/").json()["title"] == "dedans.txt"
    assert streamed(visit(client, token, access, f"/items/{inside['id']}/download/")) == TEXT
    # Anything outside the subtree is simply not found, the workspace and the link's parent too.
    workspace = Item.objects.get(workspace_owner=alice)
    for item_id in (outside["id"], private["id"], str(workspace.pk), "not-a-uuid"):
        assert_error(visit(client, token, access, f"/items/{item_id}/"), 404, "not_found")
        assert_error(visit(client, token, access, f"/items/{item_id}/children/"), 404, "not_found")
        assert_error(visit(client, token, access, f"/items/{item_id}/download/"), 404, "not_found")
    assert_error(visit(client, token, access, f"/items/{inside['id']}/children/"), 422, "not_a_folder")
    assert_error(visit(client, token, access, f"/items/{inner['id']}/download/"), 422, "not_a_file")
    # Trashed items disappear from the link; a trashed link root ends the link.
    assert api(alice).delete(f"{API}/items/{inner['id']}/").status_code == 204
    assert_error(visit(client, token, access, f"/items/{inside['id']}/"), 404, "not_found")
    assert [c["title"] for c in visit(client, token, access, f"/items/{shared['id']}/children/").json()["items"]] == [
        "racine.txt"]
    assert api(alice).delete(f"{API}/items/{shared['id']}/").status_code == 204
    assert_error(open_link(client, token), 404, "link_not_found")


def test_children_cost_a_constant_number_of_queries(api, client):
    alice = UserFactory()
    shared = folder(api, alice, "Beaucoup")
    token = create_link(api, alice, shared["id"])["token"]
    access = access_of(client, token)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = visit(client, token, access, f"/items/{shared['id']}/children/")
        assert response.status_code == 200
        return len(queries)

    folder(api, alice, "un", parent=shared["id"])
    few = count()
    for title in ("deux", "trois", "quatre", "cinq"):
        folder(api, alice, title, parent=shared["id"])
    assert count() == few


# --- uploads through an editor link ----------------------------------------------------------------------


def test_editor_link_uploads_and_the_owner_downloads(api, client):
    alice = UserFactory()
    drop = folder(api, alice, "Dépôt des candidatures")
    sub = folder(api, alice, "2026", parent=drop["id"])
    elsewhere = folder(api, alice, "Ailleurs")
    token = create_link(api, alice, drop["id"], role="editor")["token"]
    access = access_of(client, token)
    data = b"Lettre de motivation\n" * 50
    created = visit(client, token, access, "/items/", method="post",
                    json={"title": "lettre.txt", "size": len(data), "sha256": sha256(data)})
    assert created.status_code == 201, created.content
    item = created.json()
    assert item["upload_state"] == "pending" and item["role"] == "editor" and item["parent"] == drop["id"]
    assert put_bytes(item["upload"], data).status_code == 200
    ended = visit(client, token, access, f"/items/{item['id']}/upload-ended/", method="post")
    assert ended.status_code == 200, ended.content
    assert ended.json()["upload_state"] == "ready" and ended.json()["size"] == len(data)
    row = Item.objects.get(pk=item["id"])
    assert row.creator_id is None and row.quota_owner_id == alice.pk
    assert FileVersion.objects.get(item=row).uploaded_by_id is None
    assert api(alice).get(f"{API}/usage/").json()["used_bytes"] == len(data)  # charged to the owner
    download = api(alice).get(f"{API}/items/{item['id']}/download/")
    assert download.status_code == 302
    assert requests.get(download["Location"], timeout=10).content == data
    # Into a subfolder of the link: yes; outside it, or with a same-titled sibling: no.
    into_sub = visit(client, token, access, "/items/", method="post",
                     json={"title": "cv.txt", "size": 3, "parent": sub["id"]})
    assert into_sub.status_code == 201 and into_sub.json()["parent"] == sub["id"]
    assert_error(visit(client, token, access, "/items/", method="post",
                       json={"title": "x.txt", "size": 3, "parent": elsewhere["id"]}), 404, "not_found")
    assert_error(visit(client, token, access, "/items/", method="post",
                       json={"title": "lettre.txt", "size": 3}), 409, "title_conflict")
    renamed = visit(client, token, access, "/items/", method="post",
                    json={"title": "lettre.txt", "size": 3, "on_conflict": "rename"})
    assert renamed.json()["title"] == "lettre (2).txt"
    assert_error(visit(client, token, access, "/items/", method="post",
                       json={"title": "y.txt", "size": 3, "parent": item["id"]}), 422, "parent_not_folder")
    # Ending an upload outside the link is not found.
    theirs = api(alice).post(f"{API}/items/", json={"type": "file", "title": "z.txt", "size": 1,
                                                      "parent": elsewhere["id"]}).json()
    assert_error(visit(client, token, access, f"/items/{theirs['id']}/upload-ended/", method="post"), 404,
                 "not_found")


def test_editor_link_refuses_what_the_checks_refuse(api, client, settings):
    settings.DRIVE_DEFAULT_QUOTA_BYTES = 100
    alice = UserFactory()
    drop = folder(api, alice, "Dépôt")
    token = create_link(api, alice, drop["id"], role="editor")["token"]
    access = access_of(client, token)
    assert_error(visit(client, token, access, "/items/", method="post", json={"title": "big.bin", "size": 101}),
                 507, "quota_exceeded")
    # A wrong checksum is refused by S3 itself (signed into the URL): nothing to accept.
    item = visit(client, token, access, "/items/", method="post",
                 json={"title": "n.txt", "size": 5, "sha256": "0" * 64}).json()
    assert put_bytes(item["upload"], b"hello").status_code == 400
    assert_error(visit(client, token, access, f"/items/{item['id']}/upload-ended/", method="post"), 409,
                 "upload_missing")
    # Bytes that are not what their name says are refused by the server's checks.
    item = visit(client, token, access, "/items/", method="post", json={"title": "fausse.pdf", "size": 9}).json()
    assert put_bytes(item["upload"], b"just text").status_code == 200
    assert_error(visit(client, token, access, f"/items/{item['id']}/upload-ended/", method="post"), 422,
                 "type_mismatch")
    assert Item.objects.get(pk=item["id"]).upload_state == "rejected"
    assert_error(visit(client, token, access, f"/items/{item['id']}/download/"), 409, "file_not_ready")


def test_editor_link_visitor_is_not_told_the_owners_usage(api, client, settings):
    """Past the quota a visitor learns that there is no room, not how full the owner's drive
    is (used, total or free bytes); the owner, uploading herself, still gets the figures."""
    settings.DRIVE_DEFAULT_QUOTA_BYTES = 100
    alice = UserFactory()
    drop = folder(api, alice, "Dépôt")
    token = create_link(api, alice, drop["id"], role="editor")["token"]
    access = access_of(client, token)
    at_start = assert_error(visit(client, token, access, "/items/", method="post",
                                  json={"title": "big.txt", "size": 101}), 507, "quota_exceeded")
    # It fitted when the upload started; the owner filled her drive before it ended.
    data = b"Candidature\n" * 5
    started = visit(client, token, access, "/items/", method="post", json={"title": "cv.txt", "size": len(data)})
    assert put_bytes(started.json()["upload"], data).status_code == 200
    ready_file(api, alice, "mine.txt", data=b"x" * 50)
    at_end = assert_error(visit(client, token, access, f"/items/{started.json()['id']}/upload-ended/",
                                method="post"), 507, "quota_exceeded")
    for refusal in (at_start, at_end):
        assert refusal["details"] == {}, refusal
        assert not any(char.isdigit() for char in refusal["message"]), refusal["message"]
    own = api(alice).post(f"{API}/items/", json={"type": "file", "title": "o.txt", "size": 51, "parent": drop["id"]})
    details = assert_error(own, 507, "quota_exceeded")["details"]
    assert details == {"needed_bytes": 51, "used_bytes": 50, "quota_bytes": 100}


def test_editor_link_uploads_a_large_file_in_parts(api, client, settings):
    settings.DRIVE_SINGLE_UPLOAD_MAX_BYTES = MIB
    settings.DRIVE_MULTIPART_PART_BYTES = 5 * MIB
    alice = UserFactory()
    drop = folder(api, alice, "Vidéos")
    token = create_link(api, alice, drop["id"], role="editor")["token"]
    access = access_of(client, token)
    data = bytes(range(256)) * (6 * MIB // 256)
    item = visit(client, token, access, "/items/", method="post",
                 json={"title": "film.bin", "size": len(data), "sha256": sha256(data)}).json()
    assert item["upload"] is None and item["multipart"] == {"part_size": 5 * MIB, "part_count": 2}
    urls = visit(client, token, access, f"/items/{item['id']}/multipart/parts/", method="post",
                 json={"parts": [1, 2]})
    assert urls.status_code == 200, urls.content
    parts = []
    for part in urls.json():
        chunk = data[(part["number"] - 1) * 5 * MIB: part["number"] * 5 * MIB]
        response = put_bytes(part, chunk)
        assert response.status_code == 200, response.text
        parts.append({"number": part["number"], "etag": response.headers["ETag"]})
    ended = visit(client, token, access, f"/items/{item['id']}/upload-ended/", method="post", json={"parts": parts})
    assert ended.status_code == 200, ended.content
    assert ended.json()["upload_state"] == "ready" and ended.json()["size"] == len(data)


def test_reader_link_cannot_upload(api, client):
    alice = UserFactory()
    shared = folder(api, alice, "Lecture seule")
    pending = api(alice).post(f"{API}/items/", json={"type": "file", "title": "p.txt", "size": 1,
                                                       "parent": shared["id"]}).json()
    token = create_link(api, alice, shared["id"])["token"]
    access = access_of(client, token)
    assert_error(visit(client, token, access, "/items/", method="post", json={"title": "x.txt", "size": 3}),
                 403, "permission_denied")
    assert_error(visit(client, token, access, f"/items/{pending['id']}/upload-ended/", method="post"), 403,
                 "permission_denied")
    assert_error(visit(client, token, access, f"/items/{pending['id']}/multipart/parts/", method="post",
                       json={"parts": [1]}), 403, "permission_denied")
    assert Item.objects.filter(parent_id=shared["id"]).count() == 1
    # Downgrading an editor link takes effect on the sessions already open.
    editor = create_link(api, alice, shared["id"], role="editor")
    editor_access = access_of(client, editor["token"])
    api(alice).patch(f"{API}/items/{shared['id']}/links/{editor['id']}/", json={"role": "reader"})
    assert_error(visit(client, editor["token"], editor_access, "/items/", method="post",
                       json={"title": "x.txt", "size": 3}), 403, "permission_denied")


def test_an_editor_link_never_ends_an_upload_someone_else_started(api, client, settings):
    """A visitor with an editor link adds files; they must not finish the owner's unfinished
    new version of a file (that would replace its contents), nor the upload started through
    another link: the parts and the end of an upload belong to the link that started it."""
    settings.DRIVE_SINGLE_UPLOAD_MAX_BYTES = MIB
    settings.DRIVE_MULTIPART_PART_BYTES = 5 * MIB
    alice = UserFactory()
    drop = folder(api, alice, "Dépôt")
    report = ready_file(api, alice, "rapport.bin", parent=drop["id"])
    data = b"A" * (6 * MIB)
    # Alice starts a large new version of her file and leaves it unfinished.
    started = api(alice).post(f"{API}/items/{report['id']}/versions/", json={"size": len(data)})
    assert started.status_code == 201, started.content
    token = create_link(api, alice, drop["id"], role="editor")["token"]
    access = access_of(client, token)

    urls = visit(client, token, access, f"/items/{report['id']}/multipart/parts/", method="post",
                 json={"parts": [1, 2]})
    assert_error(urls, 409, "no_pending_upload")
    ended = visit(client, token, access, f"/items/{report['id']}/upload-ended/", method="post", json={})
    assert_error(ended, 409, "no_pending_upload")
    # A file the visitor started through another link is not this link's either.
    other = create_link(api, alice, drop["id"], role="editor")["token"]
    other_access = access_of(client, other)
    mine = visit(client, other, other_access, "/items/", method="post", json={"title": "mien.txt", "size": 3}).json()
    assert put_bytes(mine["upload"], b"abc").status_code == 200
    assert_error(visit(client, token, access, f"/items/{mine['id']}/upload-ended/", method="post", json={}),
                 409, "no_pending_upload")
    assert visit(client, other, other_access, f"/items/{mine['id']}/upload-ended/", method="post",
                 json={}).json()["upload_state"] == "ready"

    # Alice's upload is untouched: still waiting for her parts; her file still serves v1.
    assert FileVersion.objects.filter(item_id=report["id"], state="pending", via_link=None).count() == 1
    download = api(alice).get(f"{API}/items/{report['id']}/download/")
    assert requests.get(download["Location"], timeout=30).content == TEXT

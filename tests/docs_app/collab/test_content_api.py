"""``/api/v1/documents/<id>/content`` and ``/versions/``: reading and changing content
without a websocket (as CRDT changes), versions; permissions and bad input."""

from __future__ import annotations

import base64

import pycrdt
import pytest

from docs_app.collab import storage
from docs_app.models import DocumentUpdate, DocumentVersion, VersionKind
from suite.access.roles import LinkReach, Role
from tests.conftest import assert_error
from tests.docs_app.collab.conftest import API
from tests.docs_app.factories_sharing import grant, make_document
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MARKDOWN = "# Compte rendu\n\nLe **conseil** s'est réuni.\n\n- point un\n- point deux\n"


@pytest.fixture
def cast():
    document = make_document(title="CR")
    people = {name: UserFactory() for name in ("owner", "editor", "commenter", "reader", "stranger")}
    grant(document, Role.OWNER, user=people["owner"])
    grant(document, Role.EDITOR, user=people["editor"])
    grant(document, Role.COMMENTER, user=people["commenter"])
    grant(document, Role.READER, user=people["reader"])
    return document, people


def url(document, suffix="content"):
    return f"{API}/{document.pk}/{suffix}"


def put_markdown(api, user, document, markdown=MARKDOWN, mode="replace"):
    return api(user).patch(url(document), json={"format": "markdown", "content": markdown, "mode": mode})


def test_markdown_in_every_format_out(api, cast):
    document, people = cast
    response = put_markdown(api, people["editor"], document)
    assert response.status_code == 200, response.content
    assert response.json()["content"]["content"][0]["type"] == "heading"

    reader = api(people["reader"])
    assert reader.get(url(document) + "?format=markdown").json()["content"] == MARKDOWN
    html = reader.get(url(document) + "?format=html").json()["content"]
    assert "<h1>Compte rendu</h1>" in html and "<strong>conseil</strong>" in html
    text = reader.get(url(document) + "?format=text").json()["content"]
    assert "Compte rendu" in text and "point deux" in text
    state = base64.b64decode(reader.get(url(document) + "?format=yjs").json()["content"])
    doc = pycrdt.Doc()
    doc.apply_update(state)
    assert "conseil" in str(doc.get("default", type=pycrdt.XmlFragment))
    # Excerpt follows the content.
    document.refresh_from_db()
    assert document.excerpt.startswith("Compte rendu")


def test_append_keeps_what_is_there_and_replace_is_a_crdt_change(api, cast):
    document, people = cast
    put_markdown(api, people["editor"], document, "first paragraph\n")
    put_markdown(api, people["editor"], document, "second paragraph\n", mode="append")
    got = api(people["reader"]).get(url(document) + "?format=markdown").json()["content"]
    assert got == "first paragraph\n\nsecond paragraph\n"
    rows = DocumentUpdate.objects.filter(document=document).count()
    put_markdown(api, people["editor"], document, "only this\n")
    assert DocumentUpdate.objects.filter(document=document).count() == rows + 1  # appended
    assert api(people["reader"]).get(url(document) + "?format=markdown").json()["content"] == "only this\n"


def test_yjs_update_merges_with_concurrent_content(api, cast):
    document, people = cast
    put_markdown(api, people["editor"], document, "server side\n")
    # A client edits from an older state (empty): both changes survive.
    client = pycrdt.Doc()
    text = client.get("notes", type=pycrdt.Text)
    text += "client side"
    response = api(people["editor"]).patch(
        url(document), json={"format": "yjs", "content": base64.b64encode(client.get_update()).decode()}
    )
    assert response.status_code == 200, response.content
    doc, _ = storage.load_doc(document.pk)
    assert str(doc.get("notes", type=pycrdt.Text)) == "client side"
    assert "server side" in str(doc.get("default", type=pycrdt.XmlFragment))


def test_prosemirror_json_round_trip(api, cast):
    document, people = cast
    body = {"type": "doc", "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Titre"}]},
        {"type": "paragraph", "content": [
            {"type": "text", "text": "lien", "marks": [{"type": "link", "attrs": {"href": "https://example.org"}}]}
        ]},
    ]}
    response = api(people["editor"]).patch(url(document), json={"format": "json", "content": body})
    assert response.status_code == 200, response.content
    got = api(people["reader"]).get(url(document)).json()["content"]
    assert got["content"][0] == body["content"][0]
    assert got["content"][1]["content"][0]["text"] == "lien"
    assert got["content"][1]["content"][0]["marks"][0]["attrs"]["href"] == "https://example.org"


@pytest.mark.parametrize("name", ["reader", "commenter"])
def test_readers_and_commenters_cannot_change_content(api, cast, name):
    document, people = cast
    assert_error(put_markdown(api, people[name], document), 403, "permission_denied")
    assert not DocumentUpdate.objects.filter(document=document).exists()


def test_stranger_gets_404_and_anonymous_public_read_only(api, client, cast):
    document, people = cast
    assert_error(api(people["stranger"]).get(url(document)), 404, "not_found")
    assert_error(put_markdown(api, people["stranger"], document), 404, "not_found")
    assert_error(client.get(url(document)), 404, "not_found")
    document.link_reach = LinkReach.PUBLIC
    document.save(update_fields=["link_reach"])
    assert client.get(url(document) + "?format=text").status_code == 200
    response = client.patch(url(document), data={"format": "markdown", "content": "x"},
                            content_type="application/json")
    assert_error(response, 401, "not_authenticated")


@pytest.mark.parametrize(
    "payload",
    [
        {"format": "yjs", "content": "not base64!!"},
        {"format": "yjs", "content": base64.b64encode(b"\x01\x02\x03").decode()},
        {"format": "yjs", "content": ""},
        {"format": "json", "content": {"type": "doc", "content": [{"type": "script"}]}},
        {"format": "json", "content": "not an object"},
        {"format": "markdown", "content": {"not": "text"}},
        {"format": "docx", "content": "x"},
        {"format": "markdown", "content": "x", "mode": "prepend"},
    ],
)
def test_bad_content_is_refused_and_changes_nothing(api, cast, payload):
    document, people = cast
    put_markdown(api, people["editor"], document, "kept\n")
    rows = DocumentUpdate.objects.filter(document=document).count()
    response = api(people["editor"]).patch(url(document), json=payload)
    assert_error(response, 422, "validation_error")
    assert DocumentUpdate.objects.filter(document=document).count() == rows
    assert api(people["reader"]).get(url(document) + "?format=markdown").json()["content"] == "kept\n"


def test_unknown_format_to_read_is_refused(api, cast):
    document, people = cast
    assert_error(api(people["reader"]).get(url(document) + "?format=docx"), 422, "validation_error")


def test_document_in_trash_cannot_be_changed(api, cast):
    document, people = cast
    assert api(people["owner"]).delete(f"{API}/{document.pk}").status_code == 204
    assert_error(put_markdown(api, people["owner"], document), 404, "not_found")
    assert_error(api(people["owner"]).get(url(document)), 404, "not_found")
    assert not DocumentUpdate.objects.filter(document=document).exists()


# --- versions -------------------------------------------------------------------------------


def test_named_version_read_and_restore_as_a_new_change(api, cast):
    document, people = cast
    editor = api(people["editor"])
    put_markdown(api, people["editor"], document, "version one\n")
    created = editor.post(url(document, "versions/"), json={"name": "Relu"})
    assert created.status_code == 201, created.content
    version = created.json()
    assert (version["kind"], version["name"]) == ("named", "Relu")
    put_markdown(api, people["editor"], document, "version two\n")

    old = editor.get(url(document, f"versions/{version['id']}/content") + "?format=markdown")
    assert old.json()["content"] == "version one\n"
    rows = DocumentUpdate.objects.filter(document=document).count()

    assert editor.post(url(document, f"versions/{version['id']}/restore")).status_code == 204
    assert editor.get(url(document) + "?format=markdown").json()["content"] == "version one\n"
    assert DocumentUpdate.objects.filter(document=document).count() == rows + 1  # a new change
    names = [v["name"] for v in editor.get(url(document, "versions/")).json()["items"]]
    assert names[0].startswith("Before restoring") and "Relu" in names


def test_version_rules(api, cast):
    document, people = cast
    put_markdown(api, people["editor"], document, "text\n")
    version_id = api(people["editor"]).post(url(document, "versions/"), json={"name": "v"}).json()["id"]
    for name in ("reader", "commenter"):
        assert_error(api(people[name]).get(url(document, "versions/")), 403, "permission_denied")
        assert_error(api(people[name]).post(url(document, "versions/"), json={"name": "x"}),
                     403, "permission_denied")
        assert_error(api(people[name]).post(url(document, f"versions/{version_id}/restore")),
                     403, "permission_denied")
    assert_error(api(people["stranger"]).get(url(document, "versions/")), 404, "not_found")
    assert_error(api(people["editor"]).delete(url(document, f"versions/{version_id}")),
                 403, "permission_denied")
    for bad in ("nope", "00000000-0000-0000-0000-000000000000"):
        assert_error(api(people["editor"]).get(url(document, f"versions/{bad}/content")),
                     404, "not_found")
    other = make_document(title="other")
    grant(other, Role.OWNER, user=people["owner"])
    assert_error(api(people["owner"]).delete(f"{API}/{other.pk}/versions/{version_id}"),
                 404, "not_found")
    assert_error(api(people["editor"]).post(url(document, "versions/"), json={"name": ""}),
                 422, "validation_error")
    assert api(people["owner"]).delete(url(document, f"versions/{version_id}")).status_code == 204
    assert not DocumentVersion.objects.filter(pk=version_id).exists()


def test_compaction_folds_the_log_and_makes_an_automatic_version(api, cast, settings):
    document, people = cast
    for i in range(5):
        put_markdown(api, people["editor"], document, f"paragraph {i}\n", mode="append")
    before = api(people["reader"]).get(url(document) + "?format=markdown").json()["content"]
    result = storage.compact(document.pk)
    assert result is not None and result.merged == 5 and result.version_created
    assert not DocumentUpdate.objects.filter(document=document).exists()
    assert api(people["reader"]).get(url(document) + "?format=markdown").json()["content"] == before
    auto = DocumentVersion.objects.get(document=document, kind=VersionKind.AUTO)
    put_markdown(api, people["editor"], document, "more\n", mode="append")
    # Within DOCS_AUTO_VERSION_SECONDS of the last version: no new automatic version.
    assert storage.compact(document.pk).version_created is False
    assert DocumentVersion.objects.filter(document=document, kind=VersionKind.AUTO).get() == auto
    assert storage.compact(document.pk) is None  # nothing left to fold


def test_stored_content_outside_the_schema_answers_422_in_json_formats_and_yjs_still_works(api, cast):
    # An editor with its own node types stored an element our converters do not know.
    document, people = cast
    doc = pycrdt.Doc()
    fragment = doc.get("default", type=pycrdt.XmlFragment)
    fragment.children.append(pycrdt.XmlElement("mysteryWidget", {"data": "x"}))
    storage.append(document.pk, [doc.get_update()])
    for fmt in ("json", "markdown", "html", "text"):
        response = api(people["reader"]).get(url(document) + f"?format={fmt}")
        body = assert_error(response, 422, "content_unconvertible")
        assert "mysteryWidget" in body["message"], body
    response = api(people["reader"]).get(url(document) + "?format=yjs")
    assert response.status_code == 200
    restored = pycrdt.Doc()
    restored.apply_update(base64.b64decode(response.json()["content"]))
    assert str(restored.get("default", type=pycrdt.XmlFragment)) == str(fragment)

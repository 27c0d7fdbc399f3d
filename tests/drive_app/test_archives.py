"""ZIP of a folder through the API, previews, and malware scanning of uploads with a real
clamd (EICAR signature): fail closed, kept aside, owner told."""

from __future__ import annotations

import io
import warnings
import zipfile

import pytest
import requests
from django.core import mail
from PIL import Image

from drive_app.models import FileVersion
from tests.asgi import asgi_get, body_chunks
from tests.conftest import assert_error
from tests.drive_app.clamd import clamd  # noqa: F401  (session fixture)
from tests.drive_app.conftest import API, upload_file
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!H+H*"


def make_folder(api, user, title, parent=None):
    response = api(user).post(f"{API}/items/", json={"type": "folder", "title": title, "parent": parent})
    assert response.status_code == 201, response.content
    return response.json()


def test_zip_of_nested_folders_with_utf8_names(api):
    alice = UserFactory()
    root = make_folder(api, alice, "Dossier été")
    sub = make_folder(api, alice, "Sous-dossier à part", parent=root["id"])
    make_folder(api, alice, "Vide", parent=root["id"])
    upload_file(api, alice, "Compte-rendu réunion.txt", b"ordre du jour", parent=root["id"])
    upload_file(api, alice, "données €.csv", b"a;b\n1;2\n", parent=sub["id"])
    pending = api(alice).post(f"{API}/items/", json={"type": "file", "title": "pas fini.txt", "size": 3,
                                                     "parent": root["id"]})
    assert pending.status_code == 201
    response = api(alice).get(f"{API}/items/{root['id']}/zip/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    archive = zipfile.ZipFile(io.BytesIO(body))
    names = archive.namelist()
    assert "Dossier été/Compte-rendu réunion.txt" in names
    assert "Dossier été/Sous-dossier à part/données €.csv" in names
    assert "Dossier été/Vide/" in names
    assert not any("pas fini" in name for name in names)  # not ready: left out
    assert archive.read("Dossier été/Sous-dossier à part/données €.csv") == b"a;b\n1;2\n"
    assert all(info.flag_bits & 0x800 for info in archive.infolist() if not info.filename.isascii())
    # Files are not zipped; strangers get nothing.
    file_id = api(alice).get(f"{API}/items/{root['id']}/children/").json()["items"][-1]["id"]
    assert_error(api(alice).get(f"{API}/items/{file_id}/zip/"), 422, "not_a_folder")
    assert_error(api(UserFactory()).get(f"{API}/items/{root['id']}/zip/"), 404, "not_found")


def test_zip_streams_under_asgi(api, token_for):
    """Through Django's ASGI handler (``uvicorn suite.asgi``): the archive leaves in parts as
    it is read, not after Django has read the whole generator into a list (it warns then)."""
    alice = UserFactory()
    root = make_folder(api, alice, "Archives")
    data = bytes(range(256)) * 4096  # 1 MiB
    upload_file(api, alice, "a.bin", data, parent=root["id"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = asgi_get(f"{API}/items/{root['id']}/zip/", {"authorization": f"Bearer {token_for(alice)}"})
    assert not [w for w in caught if "iterators" in str(w.message)], [str(w.message) for w in caught]
    assert messages[0]["status"] == 200
    chunks = body_chunks(messages)
    assert len(chunks) > 4 and max(map(len, chunks)) < len(data)
    assert zipfile.ZipFile(io.BytesIO(b"".join(chunks))).read("Archives/a.bin") == data


def test_image_preview_is_generated_and_served(api):
    alice = UserFactory()
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 600), (200, 30, 30)).save(buffer, format="PNG")
    item = upload_file(api, alice, "photo.png", buffer.getvalue()).json()
    assert item["mimetype"] == "image/png"
    response = api(alice).get(f"{API}/items/{item['id']}/preview/")
    assert response.status_code == 302
    preview = Image.open(io.BytesIO(requests.get(response["Location"], timeout=10).content))
    assert max(preview.size) <= 512 and preview.size[0] == 2 * preview.size[1]
    text = upload_file(api, alice, "t.txt", b"no preview").json()
    assert_error(api(alice).get(f"{API}/items/{text['id']}/preview/"), 404, "no_preview")
    assert_error(api(UserFactory()).get(f"{API}/items/{item['id']}/preview/"), 404, "not_found")


def test_clamd_finds_eicar_and_the_file_is_never_served(api, settings, clamd):  # noqa: F811
    settings.DRIVE_SCANNER = "clamav"
    settings.DRIVE_CLAMD_SOCKET = clamd["socket"]
    alice, bob = UserFactory(), UserFactory()
    shared = make_folder(api, alice, "Partagé")
    from drive_app.models import ItemAccess

    ItemAccess.objects.create(resource_id=shared["id"], user=bob, role=30)
    mail.outbox.clear()
    response = upload_file(api, bob, "facture.txt", b"Bonjour\n" + EICAR + b"\n", parent=shared["id"])
    assert response.status_code == 200, response.content
    item = response.json()
    assert item["upload_state"] == "infected"
    assert item["upload_error"]["code"] == "infected" and "EICAR" in item["upload_error"]["message"]
    assert item["abilities"]["download"] is False
    assert_error(api(alice).get(f"{API}/items/{item['id']}/download/"), 409, "file_not_ready")
    zipped = b"".join(api(alice).get(f"{API}/items/{shared['id']}/zip/").streaming_content)
    assert zipfile.ZipFile(io.BytesIO(zipped)).namelist() == ["Partagé/"]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, bob.email])
    assert "facture.txt" in mail.outbox[0].body
    # Kept aside: the object is still there for the administrators, marked infected.
    version = FileVersion.objects.get(item_id=item["id"])
    assert version.state == "infected" and version.key
    # A clean file goes through the same scanner.
    clean = upload_file(api, bob, "propre.txt", b"rien a signaler", parent=shared["id"])
    assert clean.json()["upload_state"] == "ready"


def test_scanner_down_fails_closed_then_resumes(api, settings, clamd, tmp_path):  # noqa: F811
    from drive_app.services.uploads import resume_analysis

    settings.DRIVE_SCANNER = "clamav"
    settings.DRIVE_CLAMD_SOCKET = str(tmp_path / "nobody-listens.sock")
    alice = UserFactory()
    item = upload_file(api, alice, "wait.txt", b"scan me").json()
    assert item["upload_state"] == "analyzing" and item["abilities"]["download"] is False
    assert_error(api(alice).get(f"{API}/items/{item['id']}/download/"), 409, "file_not_ready")
    settings.DRIVE_CLAMD_SOCKET = clamd["socket"]
    import datetime as dt

    assert resume_analysis(older_than=dt.timedelta(0)) == 1
    assert api(alice).get(f"{API}/items/{item['id']}/").json()["upload_state"] == "ready"

"""Content of a document without a websocket (content API) and its versions.

Reads build the document from storage; writes are CRDT changes through
:mod:`docs_app.collab.changes` (same log, same fan-out as websocket edits). Rules: reading
content needs the view role; changing it, listing, reading, creating and restoring versions
need the editor role (a version may hold text removed since, which readers of the current
document are not meant to see); deleting a version needs the administrator role. A document
in the trash is missing here, as everywhere but the trash endpoints (404).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

import pycrdt
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from docs_app import content as converters
from docs_app.collab import changes, storage
from docs_app.content.errors import ContentError
from docs_app.models import Document, DocumentVersion, VersionKind
from docs_app.permissions import access_document
from suite.access.roles import Perm
from suite.errors import NotFound, ValidationFailed

FORMATS = ("yjs", "json", "markdown", "html", "text")


def render_doc(doc: pycrdt.Doc, fmt: str) -> Any:
    if fmt == "yjs":
        return base64.b64encode(doc.get_update()).decode("ascii")
    try:
        return converters.render(converters.read_content(doc, settings.DOCS_FRAGMENT), fmt)
    except ContentError as exc:  # an editor stored nodes outside our schema
        raise ValidationFailed(
            _("This content cannot be converted: %(reason)s") % {"reason": exc.message},
            code="content_unconvertible", status=422, details={"path": exc.path},
        ) from None


def content_read(*, actor: Any, document_id: Any, fmt: str) -> Any:
    document = access_document(actor, document_id)
    doc, _rows = storage.load_doc(document.pk)
    return render_doc(doc, fmt)


def _parse(fmt: str, value: Any) -> dict[str, Any]:
    """A ProseMirror document from Markdown or ProseMirror JSON input."""
    try:
        if fmt == "markdown":
            if not isinstance(value, str):
                raise ValidationFailed(_("Markdown content must be a string."),
                                       details={"field": "content"})
            return converters.markdown_to_json(value)
        return converters.validate_json(value)
    except ContentError as exc:
        raise ValidationFailed(exc.message, details={"field": "content", "path": exc.path}) from None


@transaction.atomic
def content_write(*, actor: Any, document_id: Any, fmt: str, value: Any, mode: str) -> pycrdt.Doc:
    """Apply a Yjs update, or replace / append Markdown or ProseMirror JSON content."""
    document = access_document(actor, document_id, need=Perm.EDIT)
    if fmt == "yjs":
        try:
            update = base64.b64decode(value, validate=True) if isinstance(value, str) else None
        except (binascii.Error, ValueError):
            update = None
        if not update:
            raise ValidationFailed(_("A Yjs update must be given in base64."),
                                   details={"field": "content"})
        try:
            return changes.submit_update(document.pk, update)
        except ValueError:
            raise ValidationFailed(_("This is not a valid Yjs update."),
                                   details={"field": "content"}) from None
    parsed = _parse(fmt, value)

    def mutate(doc: pycrdt.Doc) -> None:
        fragment = doc.get(settings.DOCS_FRAGMENT, type=pycrdt.XmlFragment)
        if mode == "replace":
            converters.replace_content(fragment, parsed)
        else:
            converters.write_json(fragment, parsed)

    return changes.apply_change(document.pk, mutate)


# --- versions -----------------------------------------------------------------------------


def _version(document: Document, version_id: Any) -> DocumentVersion:
    try:
        pk = uuid.UUID(str(version_id))
    except ValueError:
        raise NotFound() from None
    version = DocumentVersion.objects.filter(pk=pk, document=document).first()
    if version is None:
        raise NotFound()
    return version


def version_list(*, actor: Any, document_id: Any) -> Any:
    document = access_document(actor, document_id, need=Perm.EDIT)
    return DocumentVersion.objects.filter(document=document).defer("state").select_related("creator")


@transaction.atomic
def version_create(*, actor: Any, document_id: Any, name: str) -> DocumentVersion:
    document = access_document(actor, document_id, need=Perm.EDIT)
    doc, _rows = storage.load_doc(document.pk)
    state = doc.get_update()
    return DocumentVersion.objects.create(
        document=document, kind=VersionKind.NAMED, name=name, state=state, size=len(state),
        creator=actor,
    )


def version_read(*, actor: Any, document_id: Any, version_id: Any, fmt: str) -> Any:
    document = access_document(actor, document_id, need=Perm.EDIT)
    version = _version(document, version_id)
    doc: pycrdt.Doc = pycrdt.Doc()
    doc.apply_update(bytes(version.state))
    return render_doc(doc, fmt)


@transaction.atomic
def version_restore(*, actor: Any, document_id: Any, version_id: Any) -> DocumentVersion:
    """Make the document's content that of the version, as a new CRDT change on top of the
    current state (collaborators keep editing; nothing is rewritten underneath them). The
    current content is kept first as a named version, so a restore can be undone."""
    document = access_document(actor, document_id, need=Perm.EDIT)
    version = _version(document, version_id)
    old: pycrdt.Doc = pycrdt.Doc()
    old.apply_update(bytes(version.state))
    target = converters.read_content(old, settings.DOCS_FRAGMENT)
    current, _rows = storage.load_doc(document.pk)
    state = current.get_update()
    DocumentVersion.objects.create(
        document=document, kind=VersionKind.NAMED, state=state, size=len(state), creator=actor,
        name=_("Before restoring the version of %(date)s") % {
            "date": version.created_at.strftime("%Y-%m-%d %H:%M")},
    )

    def mutate(doc: pycrdt.Doc) -> None:
        converters.replace_content(doc.get(settings.DOCS_FRAGMENT, type=pycrdt.XmlFragment), target)

    changes.apply_change(document.pk, mutate)
    return version


@transaction.atomic
def version_delete(*, actor: Any, document_id: Any, version_id: Any) -> None:
    document = access_document(actor, document_id, need=Perm.SHARE)
    _version(document, version_id).delete()

"""Comments on documents: threads anchored in the content, replies, edits, resolution and
emoji reactions.

Rules:

- reading needs the right to view the document (``Perm.VIEW``, a link may give it, also to
  anonymous visitors); every write needs ``Perm.COMMENT`` (commenter and above) and an
  authenticated actor, because a comment needs an author: anonymous visitors never write,
  even through a public link with the commenter or editor role;
- one edits only one's own comments; one deletes one's own comments, and administrators and
  owners of the document may delete anyone's (moderation); a thread is deleted by its creator
  or by an administrator/owner;
- deleting a comment deletes only that comment (replies stay readable); a thread left without
  comments is deleted with its last one, since an empty thread shows nothing;
- replying to a resolved thread does not reopen it (reopening is an explicit act);
- a document in the trash is missing (404) for everything, and a thread or comment of
  another document is missing too.

Every change publishes its platform event (``docs_app.events``) inside the transaction, so it
is delivered after commit and never for a change that rolled back.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from docs_app.events import (
    CommentCreated,
    CommentDeleted,
    CommentUpdated,
    ReactionAdded,
    ReactionRemoved,
    ThreadReopened,
    ThreadResolved,
)
from docs_app.models import Comment, CommentThread, Document, Reaction
from docs_app.permissions import access_document
from docs_app.selectors.comments import parse_id
from suite.access.roles import Perm, Role, role_allows
from suite.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from suite.events import publish

BODY_MAX_LENGTH = 10_000
ANCHOR_MAX_LENGTH = 10_000
EMOJI_MAX_LENGTH = 32
#: Administrators and owners may delete the comments and threads of others.
MODERATOR_ROLE = Role.ADMINISTRATOR

_ALLOWED_CONTROLS = {"\n", "\t"}
_SHORTCODE = re.compile(r":[a-z0-9_+\-]{1,30}:")

# --- Permission predicates (also give the ``abilities`` maps sent to clients) ------------


def _authenticated(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False))


def may_write(role: int | None, actor_id: Any) -> bool:
    return actor_id is not None and role_allows(role, Perm.COMMENT)


def may_moderate(role: int | None, actor_id: Any) -> bool:
    return may_write(role, actor_id) and role is not None and role >= MODERATOR_ROLE


def thread_abilities(*, role: int | None, actor_id: Any, thread: CommentThread) -> dict[str, bool]:
    write = may_write(role, actor_id)
    resolved = thread.resolved_at is not None
    own = actor_id is not None and thread.creator_id == actor_id
    return {
        "reply": write,
        "resolve": write and not resolved,
        "reopen": write and resolved,
        "destroy": write and (own or may_moderate(role, actor_id)),
    }


def comment_abilities(*, role: int | None, actor_id: Any, comment: Comment) -> dict[str, bool]:
    write = may_write(role, actor_id)
    own = actor_id is not None and comment.author_id == actor_id
    return {
        "update": write and own,
        "destroy": write and (own or may_moderate(role, actor_id)),
        "react": write,
    }


# --- Input rules -------------------------------------------------------------------------


def _refuse_unstorable(value: str, field: str, *, allowed: set[str]) -> None:
    """Control characters (other than ``allowed``) and lone surrogates, which PostgreSQL text
    cannot hold or which make no sense in a comment."""
    for character in value:
        if character in allowed:
            continue
        if unicodedata.category(character) in ("Cc", "Cs"):
            raise ValidationFailed(
                _("Control characters are not allowed."),
                details={"field": field, "reason": "control_character"},
            )


def clean_body(body: str) -> str:
    """The body as stored: line breaks normalized, surrounding spaces stripped, 1-10,000
    characters, no control character but newlines and tabs."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    # Before stripping: Python counts some control characters (\x1c-\x1f, \x85) as spaces.
    _refuse_unstorable(body, "body", allowed=_ALLOWED_CONTROLS)
    body = body.strip()
    if not body:
        raise ValidationFailed(
            _("A comment cannot be empty."), details={"field": "body", "reason": "empty"}
        )
    if len(body) > BODY_MAX_LENGTH:
        raise ValidationFailed(
            _("A comment has at most %(max)s characters.") % {"max": BODY_MAX_LENGTH},
            details={"field": "body", "reason": "too_long", "max_length": BODY_MAX_LENGTH},
        )
    return body


def clean_anchor(anchor: str) -> str:
    """The anchor is opaque (the editor's encoding of a position), stored exactly as given;
    an empty anchor is a comment on the whole document."""
    if len(anchor) > ANCHOR_MAX_LENGTH:
        raise ValidationFailed(
            _("An anchor has at most %(max)s characters.") % {"max": ANCHOR_MAX_LENGTH},
            details={"field": "anchor", "reason": "too_long", "max_length": ANCHOR_MAX_LENGTH},
        )
    _refuse_unstorable(anchor, "anchor", allowed=_ALLOWED_CONTROLS | {"\r"})
    return anchor


# Code points that may start (or follow a joiner in) an emoji. Python's unicodedata has no
# Emoji property, so these are the blocks where Unicode's emoji live (emoji-data.txt); a
# whole block is admitted so emoji newer than the interpreter's Unicode version still pass.
_PICTOGRAPH_RANGES = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049),
    (0x2122, 0x2122), (0x2139, 0x2139), (0x2194, 0x21AA), (0x231A, 0x23FF),
    (0x24C2, 0x24C2), (0x25AA, 0x25FE), (0x2600, 0x27BF), (0x2934, 0x2935),
    (0x2B05, 0x2B55), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297),
    (0x3299, 0x3299), (0x1F000, 0x1FAFF),
)
_ZWJ = "\u200d"
_VARIATION_SELECTORS = {"\ufe0e", "\ufe0f"}
_KEYCAP = "\u20e3"
_KEYCAP_BASES = set("0123456789#*")
_TAG_RANGE = (0xE0020, 0xE007F)  # subdivision flags (🏴 + tag letters + cancel tag)
_SKIN_TONES = (0x1F3FB, 0x1F3FF)
_REGIONAL_INDICATORS = (0x1F1E6, 0x1F1FF)


def _emoji_pattern() -> str:
    """:func:`clean_emoji`'s rule as one regular expression (Python syntax), for the API
    document: a short code, a keycap, a flag, or pictographs joined by ZWJ with their
    modifiers."""

    def one(point: int) -> str:  # astral characters as themselves: see suite.schemas
        return f"\\u{point:04x}" if point < 0x10000 else chr(point)

    def span(low: int, high: int) -> str:
        return one(low) if low == high else f"{one(low)}-{one(high)}"

    # Pictographs that stay themselves once NFC-normalized, but skin tones and regional
    # indicators (which never start an emoji sequence).
    bases: list[tuple[int, int]] = []
    for low, high in _PICTOGRAPH_RANGES:
        for point in range(low, high + 1):
            character = chr(point)
            if (
                _in(character, _SKIN_TONES)
                or _in(character, _REGIONAL_INDICATORS)
                or unicodedata.normalize("NFC", character) != character
            ):
                continue
            if bases and bases[-1][1] == point - 1:
                bases[-1] = (bases[-1][0], point)
            else:
                bases.append((point, point))
    base = "[" + "".join(span(low, high) for low, high in bases) + "]"
    modifier = f"[\\ufe0e\\ufe0f{span(*_SKIN_TONES)}{span(*_TAG_RANGE)}]"
    sequence = f"{base}{modifier}*(?:\\u200d{base}{modifier}*)*"
    keycap = f"[{re.escape(''.join(sorted(_KEYCAP_BASES)))}]\\ufe0f?\\u20e3"
    flag = f"[{span(*_REGIONAL_INDICATORS)}]{{2}}"
    shortcode = ":[a-zA-Z0-9_+\\-]{1,30}:"
    # $(?!\n): Python's $ also matches before a final line break
    return f"^(?:{shortcode}|{keycap}|{flag}|{sequence})$(?!\\n)"


def _is_pictograph(character: str) -> bool:
    point = ord(character)
    return any(low <= point <= high for low, high in _PICTOGRAPH_RANGES)


def _in(character: str, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= ord(character) <= bounds[1]


def _is_emoji_sequence(value: str) -> bool:
    """One emoji: a pictograph, a keycap (``1️⃣``), a flag (two regional indicators, or a
    black flag with tags), or a ZWJ sequence of pictographs with their modifiers (skin
    tones, variation selectors). Two emoji side by side are two reactions, not one."""
    if value[0] in _KEYCAP_BASES:
        return value[1:].replace("\ufe0f", "", 1) == _KEYCAP
    if _in(value[0], _REGIONAL_INDICATORS):
        return len(value) == 2 and _in(value[1], _REGIONAL_INDICATORS)
    expect_base = True
    for character in value:
        if expect_base:
            if (
                not _is_pictograph(character)
                or _in(character, _SKIN_TONES)
                or _in(character, _REGIONAL_INDICATORS)
            ):
                return False
            expect_base = False
        elif character == _ZWJ:
            expect_base = True
        elif not (
            character in _VARIATION_SELECTORS
            or _in(character, _SKIN_TONES)
            or _in(character, _TAG_RANGE)
        ):
            return False
    return not expect_base


EMOJI_PATTERN = _emoji_pattern()


def clean_emoji(emoji: str) -> str:
    """A reaction is one emoji (as its characters) or a short code such as ``:thumbsup:``
    (lowercase letters, digits, ``_``, ``+``, ``-``); never free text."""
    emoji = unicodedata.normalize("NFC", emoji)
    if _SHORTCODE.fullmatch(emoji.lower()):
        return emoji.lower()
    if 1 <= len(emoji) <= EMOJI_MAX_LENGTH and _is_emoji_sequence(emoji):
        return emoji
    raise ValidationFailed(
        _("A reaction must be an emoji or a short code such as :thumbsup:."),
        details={"field": "emoji", "reason": "not_an_emoji"},
    )


# --- Lookups inside a write transaction ----------------------------------------------------


def _writable_document(actor: Any, document_id: Any) -> Document:
    if not _authenticated(actor):
        raise NotAuthenticated(_("Sign in to comment."))
    return access_document(actor, document_id, need=Perm.COMMENT)


def _thread(document: Document, thread_id: Any) -> CommentThread:
    """The thread of ``document``, locked for this transaction (resolve, delete and the last
    comment's deletion must not interleave)."""
    thread = (
        CommentThread.objects.select_for_update()
        .filter(document=document, pk=parse_id(thread_id))
        .first()
    )
    if thread is None:
        raise NotFound(_("No such comment thread."))
    return thread


def _comment(thread: CommentThread, comment_id: Any) -> Comment:
    comment = Comment.objects.filter(thread=thread, pk=parse_id(comment_id)).first()
    if comment is None:
        raise NotFound(_("No such comment."))
    return comment


def _ids(document: Document, thread: CommentThread, actor: Any, **more: Any) -> dict[str, Any]:
    return {"document_id": document.pk, "thread_id": thread.pk, "actor_id": actor.pk, **more}


# --- Services --------------------------------------------------------------------------------


def thread_create(*, actor: Any, document_id: Any, anchor: str, body: str) -> tuple[Document, CommentThread]:
    """Open a thread with its first comment."""
    anchor, body = clean_anchor(anchor), clean_body(body)
    with transaction.atomic():
        document = _writable_document(actor, document_id)
        thread = CommentThread.objects.create(document=document, anchor=anchor, creator=actor)
        comment = Comment.objects.create(thread=thread, author=actor, body=body)
        publish(CommentCreated(**_ids(document, thread, actor, comment_id=comment.pk)))
    return document, thread


def comment_create(*, actor: Any, document_id: Any, thread_id: Any, body: str) -> tuple[Document, Comment]:
    """Reply in a thread."""
    body = clean_body(body)
    with transaction.atomic():
        document = _writable_document(actor, document_id)
        thread = _thread(document, thread_id)
        comment = Comment.objects.create(thread=thread, author=actor, body=body)
        thread.save(update_fields=["updated_at"])
        publish(CommentCreated(**_ids(document, thread, actor, comment_id=comment.pk)))
    return document, comment


def comment_update(
    *, actor: Any, document_id: Any, thread_id: Any, comment_id: Any, body: str
) -> tuple[Document, Comment]:
    """Edit one's own comment (nobody edits another's words, not even a moderator)."""
    body = clean_body(body)
    with transaction.atomic():
        document = _writable_document(actor, document_id)
        thread = _thread(document, thread_id)
        comment = _comment(thread, comment_id)
        if comment.author_id != actor.pk:
            raise PermissionDenied(_("You can only edit your own comments."))
        if comment.body != body:
            comment.body = body
            comment.edited_at = timezone.now()
            comment.save(update_fields=["body", "edited_at", "updated_at"])
            publish(CommentUpdated(**_ids(document, thread, actor, comment_id=comment.pk)))
    return document, comment


def comment_delete(*, actor: Any, document_id: Any, thread_id: Any, comment_id: Any) -> bool:
    """Delete one's own comment, or anyone's as a moderator. Returns whether the thread went
    with it (it had no other comment)."""
    with transaction.atomic():
        document = _writable_document(actor, document_id)
        thread = _thread(document, thread_id)
        comment = _comment(thread, comment_id)
        role = document.effective_role  # type: ignore[attr-defined]
        if not comment_abilities(role=role, actor_id=actor.pk, comment=comment)["destroy"]:
            raise PermissionDenied(_("You can only delete your own comments."))
        event = CommentDeleted(**_ids(document, thread, actor, comment_id=comment.pk))
        comment.delete()
        thread_gone = not thread.comments.exists()
        if thread_gone:
            thread.delete()
        publish(event)
    return thread_gone


def thread_delete(*, actor: Any, document_id: Any, thread_id: Any) -> None:
    """Delete a thread and all its comments (its creator, or a moderator)."""
    with transaction.atomic():
        document = _writable_document(actor, document_id)
        thread = _thread(document, thread_id)
        role = document.effective_role  # type: ignore[attr-defined]
        if not thread_abilities(role=role, actor_id=actor.pk, thread=thread)["destroy"]:
            raise PermissionDenied(_("Only the thread's creator or an administrator can delete it."))
        comment_ids = list(thread.comments.values_list("pk", flat=True))
        thread_pk = thread.pk
        thread.delete()
        for comment_id in comment_ids:
            # There is no "thread deleted" event: a thread is its comments, and subscribers
            # (notifications, search) track comments.
            publish(CommentDeleted(
                document_id=document.pk, thread_id=thread_pk, comment_id=comment_id, actor_id=actor.pk
            ))


def thread_resolve(*, actor: Any, document_id: Any, thread_id: Any) -> Document:
    """Mark a thread resolved; resolving a resolved thread changes nothing."""
    with transaction.atomic():
        document = _writable_document(actor, document_id)
        thread = _thread(document, thread_id)
        if thread.resolved_at is None:
            thread.resolved_at = timezone.now()
            thread.resolved_by = actor
            thread.save(update_fields=["resolved_at", "resolved_by", "updated_at"])
            publish(ThreadResolved(**_ids(document, thread, actor)))
    return document


def thread_reopen(*, actor: Any, document_id: Any, thread_id: Any) -> Document:
    """Reopen a resolved thread; reopening an open thread changes nothing."""
    with transaction.atomic():
        document = _writable_document(actor, document_id)
        thread = _thread(document, thread_id)
        if thread.resolved_at is not None:
            thread.resolved_at = None
            thread.resolved_by = None
            thread.save(update_fields=["resolved_at", "resolved_by", "updated_at"])
            publish(ThreadReopened(**_ids(document, thread, actor)))
    return document


def reaction_add(
    *, actor: Any, document_id: Any, thread_id: Any, comment_id: Any, emoji: str
) -> Document:
    """React to a comment (idempotent: reacting twice with the same emoji counts once)."""
    emoji = clean_emoji(emoji)
    with transaction.atomic():
        document = _writable_document(actor, document_id)
        thread = _thread(document, thread_id)
        comment = _comment(thread, comment_id)
        try:
            with transaction.atomic():
                _, created = Reaction.objects.get_or_create(comment=comment, user=actor, emoji=emoji)
        except IntegrityError:
            created = False  # the same reaction was added concurrently
        if created:
            publish(ReactionAdded(**_ids(document, thread, actor, comment_id=comment.pk), emoji=emoji))
    return document


def reaction_remove(
    *, actor: Any, document_id: Any, thread_id: Any, comment_id: Any, emoji: str
) -> Document:
    """Take back one's reaction (idempotent: removing an absent reaction changes nothing)."""
    emoji = clean_emoji(emoji)
    with transaction.atomic():
        document = _writable_document(actor, document_id)
        thread = _thread(document, thread_id)
        comment = _comment(thread, comment_id)
        deleted, _details = Reaction.objects.filter(comment=comment, user=actor, emoji=emoji).delete()
        if deleted:
            publish(ReactionRemoved(**_ids(document, thread, actor, comment_id=comment.pk), emoji=emoji))
    return document

"""Share links: secret URLs to a drive item (a file, or a folder and its subtree), usable
without an account, any number per item.

Managing links needs SHARE on the item (administrator and up). A link gives the *link role*
(reader: browse and download; editor, folders only: also upload into the folder) on its
item's subtree, and nothing else. Optional password (stored hashed with Django's hashers),
expiry and download limit. The token is shown once, at creation: only its SHA-256 is stored
(``token_hash``, looked up through its unique index) with a short prefix for display.

Modules: ``tokens`` (tokens, errors, the visitor's access token), ``manage`` (SHARE on the
item: create, list, update, revoke), ``use`` (open, browse, upload; no account),
``downloads`` (the only way a visitor gets bytes: streamed, counted, never a presigned URL).

Using a link is two steps, so the password is typed once:

1. ``link_open(token, password)`` checks the link (unknown or revoked: 404; expired: 410;
   password missing or wrong: 401/403, wrong attempts rate-limited per link and IP; download
   limit reached: 410) and returns a short-lived *access* token signed with
   ``django.core.signing``, bound to the link and to a fingerprint of its password hash, so
   changing or clearing the password ends every open session of the link.
2. Every later call sends it (``X-Link-Access``); ``link_in_use`` checks the link again
   (revocation and expiry take effect at once) and the access token.

**Why a link visitor is not an "actor" of the item services.** The platform resolves roles
in SQL (``suite.access.resolve.EffectiveRole``) from grants to users and teams and from an
item's link reach; it has no notion of a right limited to one subtree, so no actor object
can make ``access_item`` answer "the link role, inside this subtree only" (an object looking
authenticated would borrow a real user's rights everywhere, an anonymous one gets only public
reach). Instead every call here first resolves the link and checks that the item is inside
the link's subtree (materialized path prefix) and not in the trash (:func:`link_item`), then:

- reads and downloads use the rows directly (``servable`` decides, fail closed); downloads
  are streamed through the server so that the download limit and a revocation hold;
- starting an upload uses the helper ``file_create`` is made of (title rules and conflict
  policy, then ``new_file``: quota room, the item, its pending version) with no user
  attached: creator and uploader stay empty, since nobody with an account did it;
- ending an upload (and multipart part URLs) calls the upload service's trusted-input
  functions (``pending_upload_of``, ``part_urls_for``, ``end_upload``) after the subtree
  check: the checks themselves (size, quota under lock, type, scan) are never copied.
"""

from drive_app.services.links.downloads import LinkDownload, link_download
from drive_app.services.links.manage import link_create, link_revoke, link_update, links_of
from drive_app.services.links.tokens import (
    ACCESS_SALT,
    ACCESS_TTL,
    PASSWORD_ATTEMPTS,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    TOKEN_MAX_LENGTH,
    CreatedLink,
    LinkAccess,
    LinkErrorCode,
    downloads_exhausted,
    hash_token,
    issue_access,
    link_expired,
    link_url,
)
from drive_app.services.links.use import (
    link_children,
    link_file_create,
    link_in_use,
    link_item,
    link_multipart_part_urls,
    link_open,
    link_upload_ended,
)

__all__ = [
    "ACCESS_SALT",
    "ACCESS_TTL",
    "PASSWORD_ATTEMPTS",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_LENGTH",
    "TOKEN_MAX_LENGTH",
    "CreatedLink",
    "LinkAccess",
    "LinkDownload",
    "LinkErrorCode",
    "downloads_exhausted",
    "hash_token",
    "issue_access",
    "link_children",
    "link_create",
    "link_download",
    "link_expired",
    "link_file_create",
    "link_in_use",
    "link_item",
    "link_multipart_part_urls",
    "link_open",
    "link_revoke",
    "link_update",
    "link_upload_ended",
    "link_url",
    "links_of",
]

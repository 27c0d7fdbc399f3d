"""WOPI failures, as :class:`~suite.errors.SuiteError` subclasses carrying the protocol's
status codes and headers (the views answer them with the uniform error body, which WOPI
clients ignore, plus those headers, which they read)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from suite.errors import SuiteError


class WopiError(SuiteError):
    """A WOPI error; ``body_extra`` adds top-level keys some clients read in the JSON body
    (Collabora's ``COOLStatusCode``)."""

    def __init__(self, message: str | None = None, *, body_extra: dict[str, Any] | None = None,
                 **kwargs: Any):
        super().__init__(message, **kwargs)
        self.body_extra = body_extra or {}


class InvalidToken(WopiError):
    """401: the access token is missing, malformed, tampered with, expired, issued for another
    file or for a user who can no longer sign in, or it does not grant what the operation
    needs (a view token used to write, or a user whose role no longer allows writing)."""

    code = "wopi_invalid_token"
    status = 401

    def __init__(self, message: str | None = None, **kwargs: Any):
        super().__init__(message or _("The access token is not valid for this request."), **kwargs)


class LockMismatch(WopiError):
    """409: the file is locked with another lock id, or not locked when it must be;
    ``X-WOPI-Lock`` carries the current lock id (empty when unlocked), as the protocol
    requires, and ``X-WOPI-LockFailureReason`` says why for the client's logs."""

    code = "wopi_lock_mismatch"
    status = 409

    def __init__(self, current_lock: str, reason: str, **kwargs: Any):
        headers = {"X-WOPI-Lock": current_lock, "X-WOPI-LockFailureReason": reason}
        super().__init__(_("The file is locked by another editing session."), headers=headers, **kwargs)
        self.current_lock = current_lock


class NotImplementedOperation(WopiError):
    """501: an ``X-WOPI-Override`` this host does not implement."""

    code = "wopi_not_implemented"
    status = 501


class InvalidProof(WopiError):
    """500: the office server offers proof keys and the request's proof does not verify:
    ``X-WOPI-Proof``/``X-WOPI-ProofOld`` missing or signed by another key or over another
    URL or token, ``X-WOPI-TimeStamp`` missing, malformed or out of its window; or
    ``WOPI_PROOF_KEYS=required`` and the discovery offers no key. MS-WOPI ("Verifying that
    requests originate from Office for the web by using proof keys") says the host *must*
    answer 500 to a request that is not signed properly (Nextcloud's integration does too):
    for the office server the operation failed, whichever status it is told. A proof that
    does not verify is a forgery or a misconfiguration (``WOPI_HOST_URL`` not the URL the
    office server calls), so it is logged as a failure, as every 5xx here is.
    ``details["reason"]`` (``proof``, ``timestamp``, ``no_key``, ``unusable_key``) says
    which check failed."""

    code = "wopi_invalid_proof"
    status = 500

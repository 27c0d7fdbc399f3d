"""Sharing endpoints of a document: accesses, invitations, access requests.

``GET /{id}/accesses/`` lists the grants on the document **and** those inherited from its
ancestors (``inherited_from`` names the ancestor; those are managed there): the accesses
endpoints are the platform's (``suite.access.api.sharing_router``), the same for every
product; invitations and access requests are the documents' own. Inviting the email of
someone the inviter's user search finds answers 409 ``user_exists`` with the user's id: grant
that user an access instead; any other address gets an invitation, account or not
(``docs_app.services.invitations``). Access requests may target documents the requester
cannot see; the answer only holds the request's id and status.
"""

# No ``from __future__ import annotations``: ``@paginate`` needs real annotations.

from typing import Literal

from django.http import HttpRequest
from ninja.pagination import paginate
from ninja.responses import Status

from docs_app.permissions import access_document
from docs_app.schemas.accesses import (
    AccessRequestCreatedOut,
    AccessRequestDecisionIn,
    AccessRequestIn,
    AccessRequestOut,
    InvitationIn,
    InvitationOut,
)
from docs_app.selectors.accesses import document_access_requests, document_invitations
from docs_app.services import access_requests, invitations
from suite.access.api import sharing_router
from suite.access.roles import Perm
from suite.access.schemas import RoleIn
from suite.identity.auth import actor
from suite.openapi import error_statuses

# Accesses: the platform's endpoints, over documents (trash excluded, as everywhere).
router = sharing_router(fetch=access_document, path_param="document_id", tags=["documents"])


# --- Invitations ------------------------------------------------------------------------


@router.get("/{document_id}/invitations/", response=list[InvitationOut], summary="Invitations")
@paginate
def invitation_list(request: HttpRequest, document_id: str):
    document = access_document(actor(request), document_id, need=Perm.SHARE)
    return document_invitations(document)


@router.post(
    "/{document_id}/invitations/", response={201: InvitationOut}, summary="Invite an email"
)
@error_statuses(409)
def invitation_create(request: HttpRequest, document_id: str, payload: InvitationIn):
    invitation = invitations.invitation_create(
        actor=actor(request), document_id=document_id, email=payload.email,
        role=payload.role, language=payload.language,
    )
    return Status(201, invitation)


@router.patch(
    "/{document_id}/invitations/{invitation_id}", response=InvitationOut,
    summary="Change an invitation's role",
)
def invitation_update(request: HttpRequest, document_id: str, invitation_id: str, payload: RoleIn):
    return invitations.invitation_update(
        actor=actor(request), document_id=document_id, invitation_id=invitation_id,
        role=payload.role,
    )


@router.delete(
    "/{document_id}/invitations/{invitation_id}", response={204: None},
    summary="Cancel an invitation",
)
def invitation_delete(request: HttpRequest, document_id: str, invitation_id: str):
    invitations.invitation_delete(
        actor=actor(request), document_id=document_id, invitation_id=invitation_id
    )
    return Status(204, None)


# --- Access requests --------------------------------------------------------------------


@router.post(
    "/{document_id}/access-requests/", response={201: AccessRequestCreatedOut},
    summary="Ask for access",
)
@error_statuses(409)
def access_request_create(request: HttpRequest, document_id: str, payload: AccessRequestIn):
    access_request = access_requests.access_request_create(
        actor=actor(request), document_id=document_id, role=payload.role, message=payload.message
    )
    return Status(201, access_request)


@router.get(
    "/{document_id}/access-requests/", response=list[AccessRequestOut],
    summary="Access requests (pending by default)",
)
@paginate
def access_request_list(
    request: HttpRequest, document_id: str,
    status: Literal["pending", "accepted", "refused", "all"] = "pending",
):
    document = access_document(actor(request), document_id, need=Perm.SHARE)
    return document_access_requests(document, None if status == "all" else status)


@router.post(
    "/{document_id}/access-requests/{request_id}/accept", response=AccessRequestOut,
    summary="Accept a request",
)
@error_statuses(409)
def access_request_accept(
    request: HttpRequest, document_id: str, request_id: str, payload: AccessRequestDecisionIn
):
    return access_requests.access_request_accept(
        actor=actor(request), document_id=document_id, request_id=request_id,
        role=payload.role, request=request,
    )


@router.post(
    "/{document_id}/access-requests/{request_id}/refuse", response=AccessRequestOut,
    summary="Refuse a request",
)
@error_statuses(409)
def access_request_refuse(request: HttpRequest, document_id: str, request_id: str):
    return access_requests.access_request_refuse(
        actor=actor(request), document_id=document_id, request_id=request_id
    )

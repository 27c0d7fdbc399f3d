"""WOPI host: office editors (Collabora Online, OnlyOffice, any WOPI client) open, lock and
save drive files through ``/wopi/files/<id>``.

- ``tokens``: the access tokens handed to the editor, signed (no table), bound to a user, a
  file, a mode (``view``/``edit``) and an expiry; every call re-checks the user and their
  current role, so a revoked or downgraded user loses the session's rights at once.
- ``locks``: the one WOPI lock per file (``WopiLock`` rows), 30 minutes unless refreshed.
- ``discovery``: the office server's ``/hosting/discovery`` XML, cached, turned into the
  editor URL for a file.
- ``proof``: the office server's signature on each request (``X-WOPI-Proof``), checked
  against the proof key its discovery publishes (``WOPI_PROOF_KEYS``).
- ``operations``: what each WOPI operation does to the drive (through the drive services).
- ``editor``: the editor URL and token for ``GET /api/v1/drive/items/<id>/wopi/``.
- ``views``: the HTTP endpoints, speaking the protocol's headers and status codes.

Decision record: ``docs/decisions/0014-wopi.md``.
"""

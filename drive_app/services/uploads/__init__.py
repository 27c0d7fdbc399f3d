"""File bytes: starting uploads (presigned PUT, or S3 multipart for large files), ending them
(checks, quota, analysis, scan), versions, downloads, and the cleanup of abandoned uploads.

The bytes never cross Python on the way in: the client PUTs them to S3 with presigned URLs
(``start``, ``multipart``). ``end`` checks what S3 holds and judges it (``analysis``); a
version is never served before it is ``ready`` (fail closed). Bytes the server receives
itself (WebDAV, WOPI) go through ``end.file_write``, hashed as they stream to S3.
"""

from drive_app.services.uploads.analysis import (
    READ_CHUNK_BYTES,
    analyze,
    apply_retention,
    resume_analysis,
)
from drive_app.services.uploads.cleanup import clean_incomplete_uploads
from drive_app.services.uploads.end import Received, end_upload, file_write, upload_ended
from drive_app.services.uploads.multipart import (
    multipart_abort,
    multipart_part_urls,
    multipart_parts,
    multipart_version,
    part_urls_for,
)
from drive_app.services.uploads.pending import editable_item, pending_upload_of, pending_version
from drive_app.services.uploads.start import (
    UPLOAD_POLICIES,
    UploadRejected,
    UploadStart,
    failed_upload,
    file_create,
    new_file,
    part_size_for,
    start_version,
    validate_declared,
    version_create,
)
from drive_app.services.uploads.versions import (
    download_url,
    file_replace,
    version_delete,
    version_restore,
)

__all__ = [
    "READ_CHUNK_BYTES",
    "UPLOAD_POLICIES",
    "Received",
    "UploadRejected",
    "UploadStart",
    "analyze",
    "apply_retention",
    "clean_incomplete_uploads",
    "download_url",
    "editable_item",
    "end_upload",
    "file_create",
    "file_write",
    "multipart_abort",
    "multipart_part_urls",
    "multipart_parts",
    "multipart_version",
    "failed_upload",
    "new_file",
    "part_size_for",
    "part_urls_for",
    "pending_upload_of",
    "pending_version",
    "resume_analysis",
    "start_version",
    "upload_ended",
    "validate_declared",
    "version_create",
    "version_delete",
    "file_replace",
    "version_restore",
]

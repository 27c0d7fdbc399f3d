"""Blob storage (being written)."""


def get_blob_store():  # pragma: no cover - replaced by the storage implementation
    raise RuntimeError("storage not implemented yet")

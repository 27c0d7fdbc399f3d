"""The S3 blob store (boto3), for any S3-compatible service: SeaweedFS, MinIO, Ceph RGW,
Garage, Scaleway, OVHcloud, Outscale, AWS. ``STORAGE_BACKEND`` names
``suite.storage.s3.S3BlobStore``.

``client.py`` builds the boto3 client and translates its errors; ``store.py`` implements
the :class:`~suite.storage.base.BlobStore` contract on it.
"""

from suite.storage.s3.store import S3BlobStore

__all__ = ["S3BlobStore"]

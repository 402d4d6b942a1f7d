"""Where document content lives, addressed by its SHA-256: the same file uploaded twice
(or by two applicants) is stored once, and a stored blob never changes.

Every upload is first streamed into a staging file on local disk (hashed and checked on
the way); ``put`` then moves it into the store: a rename on the filesystem, an upload to
an S3-compatible bucket in production."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from services.platform.errors import Unavailable

CHUNK = 64 * 1024


def blob_key(sha256: str) -> str:
    """``blobs/ab/cd/abcd…``: two levels of fan-out keep directories small."""
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class BlobStore(Protocol):
    staging_dir: Path

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def put(self, sha256: str, staged: Path) -> None:
        """Store the staged file under ``sha256`` (already computed); the staged file is gone after."""
    def read(self, sha256: str) -> AsyncIterator[bytes]:
        """The content in chunks."""
    async def exists(self, sha256: str) -> bool: ...


def new_staging_file(staging_dir: Path):
    staging_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.NamedTemporaryFile(dir=staging_dir, prefix="upload-", delete=False)


class FilesystemBlobStore:
    """``<root>/blobs/ab/cd/<sha256>``; the staging directory is on the same filesystem so
    that storing is an atomic rename (a reader never sees half a file)."""

    def __init__(self, root: Path):
        self.root = root
        self.staging_dir = root / "tmp"

    def path(self, sha256: str) -> Path:
        return self.root / blob_key(sha256)

    async def start(self) -> None:
        self.staging_dir.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        pass

    async def put(self, sha256: str, staged: Path) -> None:
        target = self.path(sha256)
        if target.exists():
            staged.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(staged, 0o444)
        os.replace(staged, target)

    async def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        try:
            f = open(self.path(sha256), "rb")
        except FileNotFoundError as exc:
            raise Unavailable("Không đọc được nội dung tài liệu, vui lòng thử lại sau.") from exc
        with f:
            while chunk := f.read(CHUNK):
                yield chunk


class S3BlobStore:
    """Any S3-compatible object store (MinIO, Ceph, a cloud bucket) through aiobotocore."""

    PART = 8 * 1024 * 1024

    def __init__(self, *, endpoint: str, bucket: str, region: str, access_key: str, secret_key: str,
                 staging_dir: Path):
        self.endpoint = endpoint or None
        self.bucket = bucket
        self.region = region
        self.access_key = access_key or None
        self.secret_key = secret_key or None
        self.staging_dir = staging_dir
        self._exit = None
        self._client = None

    async def start(self) -> None:
        from aiobotocore.session import get_session

        self.staging_dir.mkdir(parents=True, exist_ok=True)
        creator = get_session().create_client(
            "s3", endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
        )
        self._client = await creator.__aenter__()
        self._exit = creator.__aexit__

    async def close(self) -> None:
        if self._exit is not None:
            await self._exit(None, None, None)
            self._exit = self._client = None

    async def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await self._client.head_object(Bucket=self.bucket, Key=blob_key(sha256))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    async def put(self, sha256: str, staged: Path) -> None:
        try:
            if not await self.exists(sha256):
                size = staged.stat().st_size
                if size <= self.PART:
                    body = await asyncio.to_thread(staged.read_bytes)
                    await self._client.put_object(Bucket=self.bucket, Key=blob_key(sha256), Body=body)
                else:
                    await self._multipart(sha256, staged)
        finally:
            staged.unlink(missing_ok=True)

    async def _multipart(self, sha256: str, staged: Path) -> None:
        """Parts of 8 MiB, so no more than one part is ever in memory."""
        key = blob_key(sha256)
        upload = await self._client.create_multipart_upload(Bucket=self.bucket, Key=key)
        upload_id = upload["UploadId"]
        parts = []
        try:
            with open(staged, "rb") as f:
                number = 1
                while data := f.read(self.PART):
                    reply = await self._client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                           PartNumber=number, Body=data)
                    parts.append({"ETag": reply["ETag"], "PartNumber": number})
                    number += 1
            await self._client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                         MultipartUpload={"Parts": parts})
        except BaseException:
            await self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        reply = await self._client.get_object(Bucket=self.bucket, Key=blob_key(sha256))
        async with reply["Body"] as body:
            while chunk := await body.read(CHUNK):
                yield chunk


def make_blob_store(settings) -> BlobStore:
    """From the platform settings: the filesystem under ``var_dir`` unless S3 is configured."""
    root = settings.document_dir or (settings.var_dir / "documents")
    if settings.document_storage == "s3":
        return S3BlobStore(endpoint=settings.document_s3_endpoint, bucket=settings.document_s3_bucket,
                           region=settings.document_s3_region, access_key=settings.document_s3_access_key,
                           secret_key=settings.document_s3_secret_key, staging_dir=Path(root) / "tmp")
    if settings.document_storage != "filesystem":
        raise ValueError(f"MOTCUA_DOCUMENT_STORAGE must be filesystem or s3, not {settings.document_storage!r}")
    return FilesystemBlobStore(Path(root))

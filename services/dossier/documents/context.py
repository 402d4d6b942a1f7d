"""What the document use cases need, built once at start."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker

from services.dossier.documents.blobs import BlobStore


@dataclass
class DocumentContext:
    sessions: async_sessionmaker
    reads: async_sessionmaker
    blobs: BlobStore
    max_bytes: int = 20 * 1024 * 1024

"""gRPC stubs for the services, one channel each, opened at start and closed at stop."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from motcua.v1 import catalogue_pb2_grpc, documents_pb2_grpc, dossier_pb2_grpc, identity_pb2_grpc, notification_pb2_grpc
from services.platform.grpc_client import make_channel
from services.platform.settings import PlatformSettings


@dataclass
class Clients:
    channels: dict[str, grpc.aio.Channel]
    identity: identity_pb2_grpc.IdentityServiceStub
    catalogue: catalogue_pb2_grpc.CatalogueServiceStub
    dossier: dossier_pb2_grpc.DossierServiceStub
    notification: notification_pb2_grpc.NotificationServiceStub
    # Served by the dossier service process, on its channel.
    documents: documents_pb2_grpc.DocumentServiceStub

    @classmethod
    def connect(cls, settings: PlatformSettings) -> Clients:
        channels = {
            name: make_channel(getattr(settings, f"{name}_addr"), default_timeout=settings.grpc_deadline)
            for name in ("identity", "catalogue", "dossier", "notification")
        }
        return cls(
            channels=channels,
            identity=identity_pb2_grpc.IdentityServiceStub(channels["identity"]),
            catalogue=catalogue_pb2_grpc.CatalogueServiceStub(channels["catalogue"]),
            dossier=dossier_pb2_grpc.DossierServiceStub(channels["dossier"]),
            notification=notification_pb2_grpc.NotificationServiceStub(channels["notification"]),
            documents=documents_pb2_grpc.DocumentServiceStub(channels["dossier"]),
        )

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()

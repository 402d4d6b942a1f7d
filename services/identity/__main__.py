"""python -m services.identity: accounts and the embedded token issuer, over gRPC."""

from __future__ import annotations

import asyncio
import os

from motcua.v1 import catalogue_pb2_grpc, identity_pb2, identity_pb2_grpc, notification_pb2_grpc
from services.identity.api.servicer import IdentityServicer
from services.identity.app.business_registry import make_business_registry
from services.identity.app.context import Identity
from services.identity.app.demo import DEMO_MACHINE_CLIENT, load_demo_accounts
from services.identity.app.national_identity import make_national_source
from services.identity.app.ports import CatalogueAgencies, NotificationCodeSender
from services.identity.providers import make_provider
from services.identity.settings import identity_settings
from services.identity.store.models import outbox
from services.platform.db import Database
from services.platform.events import OutboxRelay
from services.platform.grpc_client import make_channel
from services.platform.grpc_server import ServiceServer
from services.platform.messaging import IDENTITY_STREAM, Bus
from services.platform.principal import METADATA_KEY, Principal, encode_principal
from services.platform.runner import run_service
from services.platform.settings import platform_settings

NAME = "identity"


async def main(stop: asyncio.Event) -> None:
    settings = platform_settings()
    ids = identity_settings()
    # Demo accounts (known passwords) only when asked: `make run` and the tests' embedded system ask.
    demo = os.environ.get("MOTCUA_DEMO_DATA", "0") == "1"
    if demo and ids.provider == "local":
        ids = ids.model_copy(update={"machine_clients": [*ids.machine_clients, DEMO_MACHINE_CLIENT]})
    db = Database.connect(settings.database_url(NAME))
    provider = make_provider(ids.provider, sessionmaker=db.sessions, issuer=ids.issuer_url, settings=ids)
    await provider.start()
    bus = Bus(settings.nats_url, name=NAME, streams=(IDENTITY_STREAM,))
    await bus.start()
    relay = OutboxRelay(db.engine, outbox, bus)
    catalogue_channel = make_channel(settings.catalogue_addr)
    notification_channel = make_channel(settings.notification_addr)
    # Identity calls notification as itself: a service principal signed with the shared secret.
    me = Principal(account_id="identity", kind="service", name="identity")
    ctx = Identity(
        sessions=db.sessions, provider=provider, relay=relay,
        codes=NotificationCodeSender(notification_pb2_grpc.NotificationServiceStub(notification_channel),
                                     lambda: ((METADATA_KEY, encode_principal(me, settings.internal_token_secret)),)),
        agencies=CatalogueAgencies(catalogue_pb2_grpc.CatalogueServiceStub(catalogue_channel)),
        national=make_national_source(ids.national_identity, ids.national_identity_sandbox_file),
        settings=ids,
        business_registry=make_business_registry(ids.business_registry, ids.business_registry_sandbox_file),
    )

    server = ServiceServer(name=NAME, addr=settings.identity_addr, secret=settings.internal_token_secret)
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(IdentityServicer(ctx, internal_secret=settings.internal_token_secret), server.server)
    server.add_services([identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name])
    server.add_health_check("database", db.ping)
    server.run_in_background(relay.run())
    if demo:
        server.run_in_background(load_demo_accounts(ctx, catalogue_pb2_grpc.CatalogueServiceStub(catalogue_channel)))
    await server.start()
    await stop.wait()
    await server.stop()
    await provider.close()
    await catalogue_channel.close()
    await notification_channel.close()
    await bus.close()
    await db.dispose()


if __name__ == "__main__":
    run_service(NAME, main)

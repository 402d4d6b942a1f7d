"""The gateway application: routes, error handling, middleware and the service clients."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import problems
from gateway.auth import TokenVerifier, jwks_from_identity
from gateway.clients import Clients
from gateway.middleware import BodyLimit, RequestContext
from gateway.routes import accounts, documents, dossiers, notifications, operations, portal, procedures
from gateway.routes import agencies, catalogue_admin
from gateway.routes import tracking, work
from gateway.routes import auth as auth_routes
from gateway.routes import me as me_routes
from gateway.settings import gateway_settings
from services.platform.logging import get_logger
from services.platform.memory import freeze_startup_objects, trim_periodically
from services.platform.settings import platform_settings

log = get_logger("gateway")


def create_app() -> FastAPI:
    settings = platform_settings()
    gw = gateway_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        clients = Clients.connect(settings)
        app.state.clients = clients
        app.state.internal_secret = settings.internal_token_secret
        app.state.verifier = TokenVerifier(jwks_from_identity(clients.identity), refresh_seconds=gw.jwks_refresh_seconds)
        try:
            await app.state.verifier.refresh()
        except Exception as exc:  # identity not up yet: the first token check will fetch the keys
            log.warning("jwks_not_loaded", error=str(exc)[:200])
        freeze_startup_objects()
        trimmer = asyncio.create_task(trim_periodically())
        yield
        trimmer.cancel()
        await clients.close()

    app = FastAPI(
        title="motcua — Hệ thống thông tin giải quyết thủ tục hành chính",
        version="1",
        description="API công khai của cổng dịch vụ công: tài khoản, thủ tục, hồ sơ, thông báo.",
        lifespan=lifespan,
    )
    problems.install(app)
    for module in (accounts, procedures, dossiers, notifications, operations, portal):
        app.include_router(module.router)
    app.include_router(auth_routes.router)
    app.include_router(me_routes.router)
    app.include_router(work.router)
    app.include_router(tracking.router)
    app.include_router(documents.router)
    app.include_router(agencies.router)
    app.include_router(catalogue_admin.router)
    app.add_middleware(BodyLimit, max_bytes=gw.max_body_bytes, paths={
        documents.UPLOAD_PATH: settings.document_max_bytes + documents.UPLOAD_OVERHEAD_BYTES,
        catalogue_admin.IMPORT_PATH: catalogue_admin.MAX_UPLOAD_BYTES + catalogue_admin.UPLOAD_OVERHEAD_BYTES,
        catalogue_admin.AGENCY_IMPORT_PATH: catalogue_admin.MAX_UPLOAD_BYTES + catalogue_admin.UPLOAD_OVERHEAD_BYTES})
    app.add_middleware(RequestContext)
    return app

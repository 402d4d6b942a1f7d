"""IdentityService over gRPC."""

from __future__ import annotations

import json

from motcua.v1 import identity_pb2, identity_pb2_grpc
from services.identity.app import accounts
from services.identity.app.tokens import ACCESS_TOKEN_SECONDS, AUDIENCE, Issuer
from services.identity.store.models import Account
from services.platform.errors import PermissionDenied
from services.platform.grpc_server import current_principal

KINDS = {"citizen": 1, "business": 2, "organisation": 3, "official": 4}


def account_to_proto(a: Account) -> identity_pb2.Account:
    msg = identity_pb2.Account(
        id=a.id, kind=KINDS.get(a.kind, 0), username=a.username, full_name=a.full_name,
        identity_number_masked=accounts.mask_number(a.identity_number), email=a.email, phone=a.phone,
        verification_level=a.verification_level, agency_code=a.agency_code, roles=list(a.roles or []),
    )
    msg.created_at.FromDatetime(a.created_at)
    return msg


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, sessions, issuer: Issuer, relay):
        self._sessions = sessions
        self._issuer = issuer
        self._relay = relay

    async def RegisterCitizen(self, request, context):
        account = await accounts.register_citizen(
            self._sessions, self._relay, identity_number=request.identity_number, full_name=request.full_name,
            date_of_birth=request.date_of_birth, email=request.email, phone=request.phone,
            password=request.password,
        )
        return identity_pb2.RegisterCitizenResponse(account=account_to_proto(account))

    async def IssueToken(self, request, context):
        async with self._sessions() as session:
            account = await accounts.authenticate(session, request.username, request.password)
        return identity_pb2.IssueTokenResponse(access_token=self._issuer.access_token(account), token_type="Bearer",
                                               expires_in=ACCESS_TOKEN_SECONDS)

    async def GetAccount(self, request, context):
        principal = current_principal()
        wanted = request.account_id or principal.account_id
        if wanted != principal.account_id and not principal.is_official:
            raise PermissionDenied("Bạn chỉ xem được tài khoản của mình.")
        async with self._sessions() as session:
            account = await accounts.get_account(session, wanted)
        return identity_pb2.GetAccountResponse(account=account_to_proto(account))

    async def GetJwks(self, request, context):
        return identity_pb2.GetJwksResponse(jwks_json=json.dumps(self._issuer.jwks()),
                                            issuer=self._issuer.issuer_url, audience=AUDIENCE)

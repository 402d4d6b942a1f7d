"""IdentityService over gRPC: translates proto <-> use cases."""

from __future__ import annotations

import json

from motcua.v1 import identity_pb2, identity_pb2_grpc
from services.identity.app import personal_data, registration, representations, signin, verification
from services.identity.app.applicants import mask_name, resolve_applicant, verifier_for
from services.identity.app.context import Identity
from services.identity.domain.identity_numbers import mask_number
from services.identity.store.models import Account, Representation
from services.platform.client_address import CLIENT_ADDRESS_KEY, verified_client_address
from services.platform.errors import PermissionDenied
from services.platform.grpc_server import current_principal
from services.platform.settings import platform_settings

KINDS = {"citizen": 1, "business": 2, "organisation": 3, "official": 4}


def shown_username(a: Account) -> str:
    """A citizen's user name is their CCCD: shown masked like the number itself."""
    return mask_number(a.username) if a.kind == "citizen" else a.username


def account_to_proto(a: Account) -> identity_pb2.Account:
    msg = identity_pb2.Account(
        id=a.id, kind=KINDS.get(a.kind, 0), username=shown_username(a), full_name=a.full_name,
        identity_number_masked=mask_number(a.identity_number), email=a.email, phone=a.phone,
        verification_level=a.verification_level, agency_code=a.agency_code, roles=list(a.roles or []),
        email_verified=bool(a.email_verified), phone_verified=bool(a.phone_verified), address=a.address or "",
        date_of_birth=a.date_of_birth.isoformat() if a.date_of_birth else "",
    )
    msg.created_at.FromDatetime(a.created_at)
    return msg


def representation_to_proto(link: Representation, body: Account) -> identity_pb2.Representation:
    return identity_pb2.Representation(body_id=body.id, body_kind=KINDS.get(body.kind, 0), body_name=body.full_name,
                                       tax_code=body.identity_number or "", role=link.role,
                                       person_id=link.person_id)


def _token_reply(cls, tokens):
    return cls(access_token=tokens.access_token, token_type=tokens.token_type, expires_in=tokens.expires_in,
               refresh_token=tokens.refresh_token, refresh_expires_in=tokens.refresh_expires_in)


def _person():
    """The caller as a person (citizen or official), never a machine client."""
    principal = current_principal()
    if principal.kind == "service":
        raise PermissionDenied("Thao tác này dành cho người dùng.")
    return principal


def client_address(context, secret: str) -> str:
    """The caller's address, only as the gateway signed it: the request's own client_address field
    is written by whoever calls and is never believed (it would pick its own throttle key)."""
    for key, value in context.invocation_metadata() or ():
        if key == CLIENT_ADDRESS_KEY and isinstance(value, str):
            return verified_client_address(value, secret)
    return ""


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, ctx: Identity, *, internal_secret: str | None = None):
        self._ctx = ctx
        self._bearer = verifier_for(ctx.provider)
        self._secret = internal_secret if internal_secret is not None else platform_settings().internal_token_secret

    def _address(self, context) -> str:
        return client_address(context, self._secret)

    # --- accounts --------------------------------------------------------------------------
    async def RegisterCitizen(self, request, context):
        account = await registration.register_citizen(
            self._ctx, identity_number=request.identity_number, full_name=request.full_name,
            date_of_birth=request.date_of_birth, email=request.email, phone=request.phone, password=request.password,
            client_address=self._address(context))
        return identity_pb2.RegisterCitizenResponse(account=account_to_proto(account))

    async def _register_body(self, kind, request, context):
        return await registration.register_body(
            self._ctx, _person(), kind=kind, tax_code=request.tax_code, name=request.name, address=request.address,
            email=request.email, phone=request.phone, client_address=self._address(context))

    async def RegisterBusiness(self, request, context):
        account = await self._register_body("business", request, context)
        return identity_pb2.RegisterBusinessResponse(account=account_to_proto(account))

    async def RegisterOrganisation(self, request, context):
        account = await self._register_body("organisation", request, context)
        return identity_pb2.RegisterOrganisationResponse(account=account_to_proto(account))

    async def CreateOfficial(self, request, context):
        account = await registration.create_official(
            self._ctx, _person(), username=request.username, full_name=request.full_name, email=request.email,
            phone=request.phone, agency_code=request.agency_code, roles=list(request.roles),
            password=request.password)
        return identity_pb2.CreateOfficialResponse(account=account_to_proto(account))

    async def SetOfficialRoles(self, request, context):
        account = await registration.set_official_roles(self._ctx, _person(), account_id=request.account_id,
                                                        roles=list(request.roles))
        return identity_pb2.SetOfficialRolesResponse(account=account_to_proto(account))

    async def GetAccount(self, request, context):
        account = await personal_data.get_account(self._ctx, _person(), request.account_id)
        return identity_pb2.GetAccountResponse(account=account_to_proto(account))

    # --- tokens ----------------------------------------------------------------------------
    async def IssueToken(self, request, context):
        tokens = await signin.sign_in(self._ctx, username=request.username, password=request.password,
                                      client_address=self._address(context))
        return _token_reply(identity_pb2.IssueTokenResponse, tokens)

    async def RefreshToken(self, request, context):
        tokens = await signin.refresh(self._ctx, refresh_token=request.refresh_token,
                                      client_address=self._address(context))
        return _token_reply(identity_pb2.RefreshTokenResponse, tokens)

    async def Logout(self, request, context):
        await signin.sign_out(self._ctx, refresh_token=request.refresh_token)
        return identity_pb2.LogoutResponse()

    async def IssueClientToken(self, request, context):
        tokens = await signin.machine_token(self._ctx, client_id=request.client_id,
                                            client_secret=request.client_secret,
                                            client_address=self._address(context))
        return identity_pb2.IssueClientTokenResponse(access_token=tokens.access_token, token_type=tokens.token_type,
                                                     expires_in=tokens.expires_in, scope=tokens.scope)

    async def GetJwks(self, request, context):
        provider = self._ctx.provider
        return identity_pb2.GetJwksResponse(jwks_json=json.dumps(await provider.jwks()), issuer=provider.issuer,
                                            audience=provider.audience, provider=provider.name)

    # --- verification and passwords --------------------------------------------------------
    async def StartContactVerification(self, request, context):
        masked = await verification.start_contact_verification(self._ctx, _person(), what=request.channel,
                                                               client_address=self._address(context))
        return identity_pb2.StartContactVerificationResponse(destination_masked=masked, expires_in_seconds=300)

    async def ConfirmContact(self, request, context):
        account = await verification.confirm_contact(self._ctx, _person(), what=request.channel, code=request.code)
        return identity_pb2.ConfirmContactResponse(account=account_to_proto(account))

    async def VerifyIdentity(self, request, context):
        account = await verification.verify_with_national_source(self._ctx, _person())
        return identity_pb2.VerifyIdentityResponse(account=account_to_proto(account))

    async def StartPasswordReset(self, request, context):
        await verification.start_password_reset(self._ctx, username=request.username,
                                                client_address=self._address(context))
        return identity_pb2.StartPasswordResetResponse()

    async def ResetPassword(self, request, context):
        await verification.reset_password(self._ctx, username=request.username, code=request.code,
                                          new_password=request.new_password, client_address=self._address(context))
        return identity_pb2.ResetPasswordResponse()

    async def ChangePassword(self, request, context):
        await verification.change_password(self._ctx, _person(), current_password=request.current_password,
                                           new_password=request.new_password, client_address=self._address(context))
        return identity_pb2.ChangePasswordResponse()

    # --- personal data ---------------------------------------------------------------------
    async def ExportMyData(self, request, context):
        data = await personal_data.export(self._ctx, _person(), client_address=self._address(context))
        return identity_pb2.ExportMyDataResponse(json=json.dumps(data, ensure_ascii=False))

    async def ListMyAuditLog(self, request, context):
        entries = await personal_data.list_audit(self._ctx, _person(), before_id=request.before_id,
                                                 page_size=request.page_size or 50)
        out = []
        for e in entries:
            msg = identity_pb2.AccountAuditEntry(id=e.id, event=e.event, actor_id=e.actor_id,
                                                 client_address=e.client_address,
                                                 detail_json=json.dumps(e.detail or {}, ensure_ascii=False))
            msg.at.FromDatetime(e.at)
            out.append(msg)
        return identity_pb2.ListMyAuditLogResponse(entries=out)

    # --- representations -------------------------------------------------------------------
    async def ListRepresentations(self, request, context):
        rows = await representations.list_for_person(self._ctx, _person().account_id)
        return identity_pb2.ListRepresentationsResponse(
            representations=[representation_to_proto(link, body) for link, body in rows])

    async def ConfirmRepresentation(self, request, context):
        link, body = await representations.confirm(self._ctx, _person(), request.body_id)
        return identity_pb2.ConfirmRepresentationResponse(representation=representation_to_proto(link, body))

    async def AddRepresentative(self, request, context):
        link = await representations.add(self._ctx, _person(), body_id=request.body_id,
                                         identity_number=request.identity_number, role=request.role)
        return identity_pb2.AddRepresentativeResponse(representation=identity_pb2.Representation(
            body_id=link.body_id, role=link.role, person_id=link.person_id))

    async def RemoveRepresentative(self, request, context):
        await representations.remove(self._ctx, _person(), body_id=request.body_id, person_id=request.person_id)
        return identity_pb2.RemoveRepresentativeResponse()

    # --- commune systems -------------------------------------------------------------------
    async def ResolveApplicant(self, request, context):
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        account = await resolve_applicant(self._ctx, self._bearer, authorization=metadata.get("authorization", ""),
                                          identity_number=request.identity_number)
        return identity_pb2.ResolveApplicantResponse(account_id=account.id, kind=KINDS.get(account.kind, 0),
                                                     verification_level=account.verification_level,
                                                     name_masked=mask_name(account.full_name))

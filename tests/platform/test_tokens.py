"""The shared bearer-token verifier: only our issuer's keys, algorithms, audience and times pass;
unknown key ids refresh the keys, at most once per interval."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.platform.errors import Unauthenticated
from services.platform.tokens import TokenExpired, TokenVerifier

ISSUER, AUDIENCE = "http://issuer.test/auth", "motcua"


def _key(kid: str):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


K1, JWK1 = _key("k1")
K2, JWK2 = _key("k2")


class Source:
    def __init__(self, *jwks):
        self.keys, self.calls = list(jwks), 0

    async def __call__(self):
        self.calls += 1
        return {"keys": list(self.keys)}, ISSUER, AUDIENCE


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _token(key=K1, kid="k1", alg="RS256", **changes) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "a1", "iat": now, "nbf": now, "exp": now + 600, **changes}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def clock():
    return Clock()


def _verifier(source, clock) -> TokenVerifier:
    return TokenVerifier(source, refresh_seconds=10, max_age_seconds=300, leeway=30, clock=clock)


async def test_a_token_of_our_issuer_passes(clock):
    claims = await _verifier(Source(JWK1), clock).verify(_token())
    assert claims["sub"] == "a1"


@pytest.mark.parametrize("changes", [
    {"iss": "http://evil.test/auth"},
    {"aud": "someone-else"},
    {"nbf": int(time.time()) + 3600},
    {"exp": None},
    {"iss": None},
])
async def test_wrong_issuer_audience_future_nbf_or_missing_claims_are_refused(clock, changes):
    with pytest.raises(Unauthenticated) as err:
        await _verifier(Source(JWK1), clock).verify(_token(**changes))
    assert not isinstance(err.value, TokenExpired)


async def test_an_expired_token_signed_by_a_real_key_is_refused_as_expired(clock):
    past = int(time.time()) - 3600
    with pytest.raises(TokenExpired):
        await _verifier(Source(JWK1), clock).verify(_token(iat=past - 600, nbf=past - 600, exp=past))


async def test_alg_none_and_hs256_with_the_public_key_are_refused(clock):
    verifier = _verifier(Source(JWK1), clock)
    unsigned = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "a1", "iat": 1, "exp": 2**31}, None,
                          algorithm="none", headers={"kid": "k1"})
    public_pem = K1.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "a1", "iat": 1,
                                                     "exp": 2**31}).encode())
    import hashlib
    import hmac
    signature = jwt.utils.base64url_encode(hmac.new(public_pem, header + b"." + payload, hashlib.sha256).digest())
    confused = (header + b"." + payload + b"." + signature).decode()
    for token in (unsigned, confused):
        with pytest.raises(Unauthenticated):
            await verifier.verify(token)


async def test_an_unknown_key_id_refreshes_once_per_interval_then_verifies(clock):
    source = Source(JWK1)
    verifier = _verifier(source, clock)
    await verifier.verify(_token())
    assert source.calls == 1
    # Forged key ids within the interval: no JWKS request each.
    for i in range(5):
        with pytest.raises(Unauthenticated):
            await verifier.verify(_token(K2, kid=f"made-up-{i}"))
    assert source.calls == 1
    # The issuer publishes k2; after the interval an unknown kid fetches the keys again.
    source.keys.append(JWK2)
    clock.now += 11
    assert (await verifier.verify(_token(K2, kid="k2")))["sub"] == "a1"
    assert source.calls == 2


async def test_keys_are_refetched_periodically_so_a_retired_key_stops_verifying(clock):
    source = Source(JWK1, JWK2)
    verifier = _verifier(source, clock)
    await verifier.verify(_token())
    source.keys = [JWK2]
    clock.now += 301
    with pytest.raises(Unauthenticated):
        await verifier.verify(_token())
    assert source.calls == 2


async def test_keys_already_known_keep_verifying_while_the_source_is_away(clock):
    source = Source(JWK1)
    verifier = _verifier(source, clock)
    await verifier.verify(_token())

    async def down():
        raise ConnectionError("identity away")

    verifier._source = down
    clock.now += 301
    assert (await verifier.verify(_token()))["sub"] == "a1"


class WallClock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


def _remembering_verifier(source, clock, wall, **kwargs) -> TokenVerifier:
    return TokenVerifier(source, refresh_seconds=10, max_age_seconds=300, leeway=30, clock=clock,
                         wall_clock=wall, **kwargs)


async def test_a_remembered_token_is_not_decoded_again_but_its_claims_are_a_fresh_copy(clock, monkeypatch):
    decodes = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append(1) or real_decode(*a, **k))
    verifier = _remembering_verifier(Source(JWK1), clock, WallClock())
    token = _token()
    first = await verifier.verify(token)
    first["sub"] = "changed by a caller"
    second = await verifier.verify(token)
    assert second["sub"] == "a1"
    assert len(decodes) == 1


async def test_a_remembered_token_still_expires(clock):
    wall = WallClock()
    verifier = _remembering_verifier(Source(JWK1), clock, wall)
    token = _token(exp=int(wall.now) + 600)
    await verifier.verify(token)
    wall.now += 600 + 31  # past exp and the leeway
    with pytest.raises(TokenExpired):
        await verifier.verify(token)


async def test_a_remembered_token_stops_verifying_when_its_key_is_retired(clock):
    source = Source(JWK1, JWK2)
    verifier = _remembering_verifier(source, clock, WallClock())
    token = _token()
    await verifier.verify(token)
    source.keys = [JWK2]
    clock.now += 301
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)


async def test_a_token_differing_from_a_remembered_one_is_checked_in_full(clock):
    verifier = _remembering_verifier(Source(JWK1), clock, WallClock())
    token = _token()
    await verifier.verify(token)
    head, payload, signature = token.split(".")
    forged_claims = json.loads(jwt.utils.base64url_decode(payload))
    forged_claims["sub"] = "someone-else"
    forged = ".".join([head, jwt.utils.base64url_encode(json.dumps(forged_claims).encode()).decode(), signature])
    with pytest.raises(Unauthenticated):
        await verifier.verify(forged)
    assert (await verifier.verify(token))["sub"] == "a1"


async def test_remembered_tokens_are_bounded_and_the_oldest_goes_first(clock, monkeypatch):
    decodes = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append(1) or real_decode(*a, **k))
    verifier = _remembering_verifier(Source(JWK1), clock, WallClock(), remembered=2)
    tokens = [_token(sub=f"a{i}") for i in range(3)]
    for token in tokens:
        await verifier.verify(token)
    assert len(decodes) == 3
    await verifier.verify(tokens[2])  # still remembered
    assert len(decodes) == 3
    await verifier.verify(tokens[0])  # the oldest was let go: decoded again
    assert len(decodes) == 4

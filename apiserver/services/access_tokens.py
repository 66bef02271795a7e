"""Grafana access tokens: verifying the ones callers present, and issuing ours (the token exchange).

An access token is a JWT as grafana/authlib defines it (`authn/verifier.go`,
`verifier_access_token.go`): header `typ: at+jwt` and a `kid` naming a key of a JWKS; claims
`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti` and the custom `namespace` (`*` for all),
`permissions`, `scopes`, `delegatedPermissions` and `serviceIdentity`. Keys are our own signing
keys plus the JWKS documents the operator trusts (Grafana Cloud's, another issuer's). Only RS256
and ES256 are accepted, and each key only with the algorithm of its own type, so neither
`alg: none` nor an HMAC "signed" with a public key can pass.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt

from ..machinery.context import Principal
from .permissions import ALL_NAMESPACES, DECRYPT_ANY, Grant
from .signing_keys import ALGORITHM, SigningKeys
from .tokens import TokenService

ACCESS_TOKEN_TYPE = "at+jwt"
AUDIENCE = "secret.grafana.app"
ISSUER = "apiserver"
DEFAULT_LIFETIME = 600  # seconds, as Grafana's token signer
MAX_LIFETIME = 3600
LEEWAY = 30  # seconds of clock skew tolerated on exp/nbf
_ALGORITHMS = {"RSA": "RS256", "EC": "ES256"}
RESTRICTED_DELEGATED = "restrictedDelegatedPermissions"
VERIFIED_CACHE_SIZE = 4096  # verified access tokens remembered (their hashes and claims)


class InvalidAccessToken(Exception):
    """A token that is malformed, expired, not yet valid, for another audience or not verifiable.

    The message says which check failed, never anything of the token itself.
    """


class JwksFileError(ValueError):
    """A `--grafana-jwks` file that cannot be read as a JWKS document (a start-up error)."""


class ExchangeRefused(Exception):
    """A token exchange that is not allowed (400 for a bad request, 403 for more than the token has)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    namespace: str
    permissions: tuple[str, ...]
    service_identities: tuple[str, ...]  # as Grafana's authorizer sees them: it wants exactly one
    issuer: str
    expires: float

    def namespace_matches(self, namespace: str) -> bool:
        return self.namespace == ALL_NAMESPACES or self.namespace == namespace

    def grant(self) -> Grant:
        """The decrypt rights: the token's namespace and permissions, for its one service identity."""
        identity = self.service_identities[0].strip() if len(self.service_identities) == 1 else None
        namespaces = None if self.namespace == ALL_NAMESPACES else frozenset([self.namespace])
        return Grant(namespaces, decrypt=self.permissions, service_identity=identity or None)


class TrustedKeys:
    """Keys by kid: the server's own signing keys first, then the operator's JWKS files."""

    def __init__(self, own: SigningKeys, jwks_files: Iterable[Path] = ()) -> None:
        self.own = own
        self.files = list(jwks_files)
        self._external: dict[str, dict[str, Any]] = {}
        for path in self.files:
            self._external.update(load_jwks(path))

    def get(self, kid: str) -> dict[str, Any] | None:
        return self.own.public_jwk(kid) or self._external.get(kid)


def load_jwks(path: Path) -> dict[str, dict[str, Any]]:
    """The signature keys of a JWKS document, by kid; JwksFileError for a document that is not one."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise JwksFileError(f"{path}: not a readable JWKS document ({type(exc).__name__})") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise JwksFileError(f'{path}: a JWKS document is {{"keys": [...]}}')
    found: dict[str, dict[str, Any]] = {}
    for key in keys:
        if not isinstance(key, dict) or not isinstance(key.get("kid"), str) or key.get("kty") not in _ALGORITHMS:
            continue  # keys without a kid, or of a type we never accept, can verify nothing here
        if key.get("use", "sig") != "sig" or "d" in key:
            continue
        found[key["kid"]] = key
    return found


def _expected_algorithm(jwk: dict[str, Any]) -> str | None:
    expected = _ALGORITHMS.get(jwk.get("kty", ""))
    if jwk.get("alg") not in (None, expected):
        return None
    if expected == "ES256" and jwk.get("crv") != "P-256":
        return None
    return expected


class AccessTokenVerifier:
    """Verifies access tokens; a token verified once is remembered (by its hash) until it expires.

    A caller presents the same token on every call for minutes (authlib caches it until shortly
    before its exp), and checking an ES256 or RS256 signature costs more than the decrypt it
    guards. A remembered token is still refused once it expires, or when its key is no longer
    trusted (a signing key is dropped only after every token it signed has expired anyway).
    """

    def __init__(
        self, keys: TrustedKeys, *, clock: Callable[[], float] = time.time, remember: int = VERIFIED_CACHE_SIZE
    ) -> None:
        self.keys = keys
        self._clock = clock
        self._remember = remember
        self._verified: dict[bytes, tuple[str, AccessClaims, float]] = {}  # hash -> (kid, claims, nbf)

    def verify(self, token: str) -> AccessClaims:
        digest = hashlib.sha256(token.encode()).digest()
        known = self._verified.get(digest)
        if known is not None:
            kid, claims, nbf = known
            if self.keys.get(kid) is not None:
                self._check_window(claims.expires, nbf)
                return claims
            del self._verified[digest]
        kid, claims, nbf = self._verify(token)
        if len(self._verified) >= self._remember:
            self._forget_some()
        self._verified[digest] = (kid, claims, nbf)
        return claims

    def _forget_some(self) -> None:
        """Expired tokens first; if none, the oldest quarter (a dict keeps insertion order)."""
        now = self._clock()
        expired = [d for d, (_, claims, _) in self._verified.items() if now >= claims.expires + LEEWAY]
        for digest in expired or list(self._verified)[: max(1, self._remember // 4)]:
            del self._verified[digest]

    def _verify(self, token: str) -> tuple[str, AccessClaims, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidAccessToken("the access token is not a JWT") from None
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidAccessToken("the token is not an access token (typ at+jwt)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidAccessToken("the access token names no signing key (kid)")
        jwk = self.keys.get(kid)
        if jwk is None:
            raise InvalidAccessToken("the access token's signing key is not trusted")
        algorithm = _expected_algorithm(jwk)
        if algorithm is None or header.get("alg") != algorithm:
            raise InvalidAccessToken("the access token's algorithm does not fit its key")
        try:
            key = jwt.PyJWK(jwk, algorithm).key
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=AUDIENCE,
                options={"require": ["exp", "aud"], "verify_iat": False, "verify_exp": False, "verify_nbf": False},
            )
        except (jwt.InvalidAudienceError, jwt.MissingRequiredClaimError):
            raise InvalidAccessToken(f"the access token is not for {AUDIENCE}") from None
        except jwt.PyJWTError:
            raise InvalidAccessToken("the access token's signature does not verify") from None
        exp, nbf = _seconds(claims.get("exp")), _seconds(claims.get("nbf", 0))
        if exp is None or nbf is None:
            raise InvalidAccessToken("the access token's exp and nbf must be numbers")
        self._check_window(exp, nbf)
        return kid, _claims(claims), nbf

    def _check_window(self, exp: float, nbf: float) -> None:
        """exp and nbf against our clock (PyJWT would take the wall clock), with LEEWAY of skew."""
        now = self._clock()
        if now >= exp + LEEWAY:
            raise InvalidAccessToken("the access token has expired")
        if now < nbf - LEEWAY:
            raise InvalidAccessToken("the access token is not valid yet")


def _seconds(value: Any) -> float | None:
    """A NumericDate claim; None for anything else (JSON's true is no number of seconds)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return ()


def _claims(claims: dict[str, Any]) -> AccessClaims:
    namespace = claims.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise InvalidAccessToken("the access token has no namespace")
    identity = claims.get("serviceIdentity")
    identities = () if identity in (None, "") else _strings(identity) or ("",)
    return AccessClaims(
        subject=str(claims.get("sub", "")),
        namespace=namespace,
        permissions=_strings(claims.get("permissions")),
        service_identities=identities,
        issuer=str(claims.get("iss", "")),
        expires=float(claims["exp"]),
    )


class AccessTokenIssuer:
    """The token exchange: one of our service tokens in, a short-lived access token out."""

    def __init__(self, tokens: TokenService, keys: SigningKeys, *, clock: Callable[[], float] = time.time) -> None:
        self.tokens = tokens
        self.keys = keys
        self._clock = clock

    async def exchange(self, principal: Principal, request: Any) -> str:
        """A signed access token for `request` (authlib's TokenExchangeRequest) on behalf of `principal`."""
        grant = self.tokens.grant_for(principal)
        if grant is None:
            raise ExchangeRefused(401, "invalid token")
        namespace, audiences, expires_in = _parse_request(request)
        identity = (principal.service_identity or "").strip()
        if not identity:
            raise ExchangeRefused(403, "only a token with a service identity can be exchanged for an access token")
        if namespace == ALL_NAMESPACES and grant.namespaces is not None:
            raise ExchangeRefused(403, "the token does not apply to every namespace")
        if namespace != ALL_NAMESPACES and not grant.covers(namespace):
            raise ExchangeRefused(403, f'the token does not apply to namespace "{namespace}"')
        record = self.tokens.get(principal.token_id) if principal.token_id not in ("", "bootstrap") else None
        now = self._clock()
        expires = now + min(expires_in or DEFAULT_LIFETIME, MAX_LIFETIME)
        if record is not None and record.expires:
            expires = min(expires, _epoch(record.expires))  # never outlive the token it came from
        if expires <= now:
            raise ExchangeRefused(401, "invalid token")
        permissions = [p for p in grant.decrypt if p == DECRYPT_ANY or p.startswith("secret.grafana.app/")]
        kid, private = await self.keys.signer()
        claims = {
            "iss": ISSUER,
            "sub": f"access-policy:{principal.token_id}",
            "aud": audiences,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(expires),
            "jti": secrets.token_hex(16),
            "namespace": namespace,
            "permissions": permissions,
            "scopes": [],
            "delegatedPermissions": [],
            "serviceIdentity": identity,
        }
        return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid, "typ": ACCESS_TOKEN_TYPE})


def _epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _parse_request(request: Any) -> tuple[str, list[str], int | None]:
    """authlib's TokenExchangeRequest: namespace, audiences; optional subjectToken, expiresIn and
    restrictedDelegatedPermissions (a narrowing of delegated permissions: ours never carry any, so
    any narrowing of them is already satisfied)."""
    if not isinstance(request, dict):
        raise ExchangeRefused(400, "the body must be a JSON object")
    unknown = set(request) - {"namespace", "audiences", "subjectToken", "expiresIn", RESTRICTED_DELEGATED}
    if unknown:
        raise ExchangeRefused(400, f"unknown field {sorted(unknown)[0]!r}")
    namespace = request.get("namespace")
    if not isinstance(namespace, str) or not namespace or len(namespace) > 253:
        raise ExchangeRefused(400, "missing namespace")
    audiences = request.get("audiences")
    if not isinstance(audiences, list) or not audiences or not all(isinstance(a, str) for a in audiences):
        raise ExchangeRefused(400, "missing audiences")
    if any(a != AUDIENCE for a in audiences):
        raise ExchangeRefused(403, f"this server signs access tokens for the audience {AUDIENCE} only")
    if request.get("subjectToken"):
        raise ExchangeRefused(400, "exchanging a subject token (on-behalf-of) is not supported")
    restricted = request.get(RESTRICTED_DELEGATED, [])
    if not isinstance(restricted, list) or not all(isinstance(p, str) for p in restricted):
        raise ExchangeRefused(400, f"{RESTRICTED_DELEGATED} must be a list of permissions")
    expires_in = request.get("expiresIn")
    if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0):
        raise ExchangeRefused(400, "expiresIn must be a positive number of seconds")
    return namespace, sorted(set(audiences)), expires_in

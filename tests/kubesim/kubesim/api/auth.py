"""Authentication: who is calling.

kubesim accepts the four credential kinds kubectl sends: bearer tokens (a kubeconfig's tokenFile also
arrives as a bearer token), client certificates signed by the cluster CA (CN = user, O = groups) and
HTTP basic. Anything else, or nothing, is a 401 Status.
"""
from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field
from typing import Callable

ADMIN_GROUP = "system:masters"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


def _with_authenticated(name: str, groups) -> UserInfo:
    gs = tuple(groups)
    if "system:authenticated" not in gs:
        gs = gs + ("system:authenticated",)
    return UserInfo(name, gs)


class Authenticator:
    def __init__(self):
        self._tokens: dict[str, UserInfo] = {}
        self._checks: dict[str, Callable[[], bool]] = {}
        self._basic: dict[str, tuple[str, UserInfo]] = {}

    def add_token(self, token: str, user: str, groups=(), still_valid: Callable[[], bool] | None = None) -> None:
        """`still_valid` (if given) is asked on every use: bound tokens die with their ServiceAccount."""
        self._tokens[token] = _with_authenticated(user, groups)
        if still_valid is not None:
            self._checks[token] = still_valid

    def add_basic(self, username: str, password: str, groups=()) -> None:
        self._basic[username] = (password, _with_authenticated(username, groups))

    def authenticate(self, authorization: str | None, peercert: dict | None) -> UserInfo | None:
        """Returns the caller, or None for a 401. A presented but wrong credential never falls through."""
        if authorization:
            scheme, _, value = authorization.strip().partition(" ")
            value = value.strip()
            if scheme.lower() == "bearer" and value:
                for token, user in self._tokens.items():
                    if hmac.compare_digest(token.encode(), value.encode()):
                        check = self._checks.get(token)
                        return user if check is None or check() else None
                return None
            if scheme.lower() == "basic" and value:
                try:
                    username, _, password = base64.b64decode(value, validate=True).decode().partition(":")
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    return None
                entry = self._basic.get(username)
                if entry and hmac.compare_digest(entry[0].encode(), password.encode()):
                    return entry[1]
                return None
            return None
        if peercert:
            return _from_cert(peercert)
        return None


def _from_cert(peercert: dict) -> UserInfo | None:
    cn, orgs = None, []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    if not cn:
        return None
    return _with_authenticated(cn, orgs)

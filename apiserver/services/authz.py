"""Authorization: the one place that decides what a principal may do.

The grant of a principal is read from its token record on every call, so a revocation or an
expiry takes effect on the next request (and on the next item of a running list).
"""

from __future__ import annotations

from ..machinery.context import Principal
from ..machinery.errors import forbidden
from ..machinery.strategy import ResourceType
from .permissions import Grant
from .tokens import TokenService


def forbidden_message(principal: Principal, verb: str, rtype: ResourceType, namespace: str, name: str) -> str:
    """Worded as kube-apiserver's `forbiddenMessage`."""
    who = f'User "{principal.subject}"'
    what = f'{rtype.qualified} "{name}"' if name else rtype.qualified
    group = f' in API group "{rtype.group}"'
    tail = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return f'{what} is forbidden: {who} cannot {verb} resource "{rtype.resource}"{group}{tail}'


class Authorizer:
    """Roles and Grafana-style permissions, scoped to the namespaces of the caller's token."""

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    def grant(self, principal: Principal) -> Grant | None:
        return self.tokens.grant_for(principal)

    def can(self, principal: Principal, verb: str, rtype: ResourceType, namespace: str, name: str = "") -> bool:
        grant = self.grant(principal)
        return grant is not None and grant.allows(verb, rtype.resource, rtype.group, namespace, name)

    def authorize(self, principal: Principal, verb: str, rtype: ResourceType, namespace: str, name: str = "") -> None:
        if not self.can(principal, verb, rtype, namespace, name):
            raise forbidden(
                forbidden_message(principal, verb, rtype, namespace, name), rtype.resource, name, rtype.group
            )

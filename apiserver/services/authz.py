"""Authorization: the one place that decides what a principal may do."""

from __future__ import annotations

from ..machinery.context import Principal
from ..machinery.errors import forbidden
from ..machinery.strategy import ResourceType
from .tokens import ADMIN_SUBJECT


def forbidden_message(principal: Principal, verb: str, rtype: ResourceType, namespace: str, name: str) -> str:
    """Worded as kube-apiserver's `forbiddenMessage`."""
    who = f'User "{principal.subject}"'
    what = f'{rtype.qualified} "{name}"' if name else rtype.qualified
    group = f' in API group "{rtype.group}"'
    tail = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return f'{what} is forbidden: {who} cannot {verb} resource "{rtype.resource}"{group}{tail}'


class Authorizer:
    def can(self, principal: Principal, verb: str, rtype: ResourceType, namespace: str, name: str = "") -> bool:
        return principal.subject == ADMIN_SUBJECT

    def authorize(self, principal: Principal, verb: str, rtype: ResourceType, namespace: str, name: str = "") -> None:
        if not self.can(principal, verb, rtype, namespace, name):
            raise forbidden(forbidden_message(principal, verb, rtype, namespace, name), rtype.resource, name,
                            rtype.group)

"""Who is asking and how: the request context every registry call carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .strategy import ResourceType


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `subject` is `user:NAME` or the name of a service identity."""

    subject: str
    token_id: str = ""
    service_identity: str | None = None


@dataclass
class RequestContext:
    principal: Principal
    request_id: str = ""
    dry_run: bool = False
    field_manager: str | None = None
    default_manager: str = "unknown"  # upstream derives it from the User-Agent
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    warnings: list[str] = field(default_factory=list)
    # The service a caller says it acts for (Grafana's X-Grafana-Service-Identity-Name): recorded in
    # the audit log only; authorization always uses the credential's own identity.
    acting_for: str = ""


class Authorizer(Protocol):
    """The single place that decides whether a principal may do a verb on a resource."""

    def authorize(self, principal: Principal, verb: str, rtype: ResourceType, namespace: str, name: str = "") -> None:
        """Raise a 403 ApiError (worded as Kubernetes') when not allowed."""

    def can(self, principal: Principal, verb: str, rtype: ResourceType, namespace: str, name: str = "") -> bool:
        """Whether allowed, without raising; lists keep only what the caller may get."""

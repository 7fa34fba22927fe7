"""People who steer the service from the console, and what each role may do.

Roles come from the company's identity provider (a groups claim), never from llmaas' own database:
the company adds or removes someone in its directory and the console follows at the next login. There
is no user table and no seat count, so the number of console users is never limited.

Every admin call checks one :class:`Permission`; the console hides what a role cannot do, but the
server refuses it either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    """Runs the platform: every organization, tiers, deployments."""
    OWNER = "owner"
    ADMIN = "admin"
    """Owner and admin: everything in their organization (keys, usage, audit trail)."""
    BILLING = "billing"
    """Usage, spend and prices of their organization."""
    VIEWER = "viewer"
    """Reads their organization's keys, usage and the catalog; changes nothing."""


class Permission(StrEnum):
    KEYS_READ = "keys.read"
    KEYS_WRITE = "keys.write"
    USAGE_READ = "usage.read"
    CATALOG_READ = "catalog.read"
    AUDIT_READ = "audit.read"
    PLATFORM_READ = "platform.read"
    """Tiers, organizations, deployments: the operator's view of the whole platform."""
    PLATFORM_WRITE = "platform.write"


_ORGANIZATION_ADMIN = frozenset(
    {
        Permission.KEYS_READ,
        Permission.KEYS_WRITE,
        Permission.USAGE_READ,
        Permission.CATALOG_READ,
        Permission.AUDIT_READ,
    }
)
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset(Permission),
    Role.OWNER: _ORGANIZATION_ADMIN,
    Role.ADMIN: _ORGANIZATION_ADMIN,
    Role.BILLING: frozenset({Permission.USAGE_READ, Permission.CATALOG_READ}),
    Role.VIEWER: frozenset({Permission.KEYS_READ, Permission.USAGE_READ, Permission.CATALOG_READ}),
}
_RANK = {role: rank for rank, role in enumerate(Role)}


@dataclass(frozen=True, slots=True)
class AdminScope:
    """What one admin call may touch: a set of permissions, in one organization or in all of them."""

    permissions: frozenset[Permission]
    organization_id: str | None
    """``None``: every organization (the platform operator, an admin API key)."""

    def allows(self, permission: Permission) -> bool:
        return permission in self.permissions

    def covers(self, organization_id: str) -> bool:
        return self.organization_id is None or self.organization_id == organization_id


OPERATOR_SCOPE = AdminScope(ROLE_PERMISSIONS[Role.OPERATOR], None)


@dataclass(frozen=True, slots=True)
class StaffMember:
    """Someone logged in to the console, as their identity provider described them at login."""

    subject: str
    """``sso:<issuer subject>``, or ``key:<id>`` for the local login with an admin key."""
    name: str
    email: str = ""
    operator: bool = False
    memberships: Mapping[str, Role] = field(default_factory=dict)
    """Organization id -> the highest role held in it."""

    @property
    def organizations(self) -> tuple[str, ...]:
        return tuple(sorted(self.memberships))

    def role_in(self, organization_id: str) -> Role | None:
        if self.operator:
            return Role.OPERATOR
        return self.memberships.get(organization_id)

    def scope_in(self, organization_id: str) -> AdminScope | None:
        """The permissions in ``organization_id``; operators see it through their platform scope."""
        if self.operator:
            return OPERATOR_SCOPE
        role = self.memberships.get(organization_id)
        return None if role is None else AdminScope(ROLE_PERMISSIONS[role], organization_id)


def highest(roles: Iterable[Role]) -> Role | None:
    """The most powerful of ``roles`` (operator > owner > admin > billing > viewer)."""
    ranked = sorted(roles, key=_RANK.__getitem__)
    return ranked[0] if ranked else None


@dataclass(frozen=True, slots=True)
class GroupMapping:
    """How the identity provider's group names become roles.

    ``<prefix>:operator`` makes a platform operator; ``<prefix>:<organization>:<role>`` gives a role
    in one organization (``llmaas:acme:admin``). Groups that match neither are someone else's business
    and are ignored, so the same directory can serve many applications.
    """

    prefix: str = "llmaas"

    def member(self, subject: str, name: str, email: str, groups: Iterable[str]) -> StaffMember:
        operator = False
        roles: dict[str, list[Role]] = {}
        for group in groups:
            parts = group.split(":")
            if len(parts) < 2 or parts[0] != self.prefix:
                continue
            if parts[1:] == [Role.OPERATOR.value]:
                operator = True
            elif len(parts) == 3 and parts[1] and parts[2] in _ORGANIZATION_ROLES:
                roles.setdefault(parts[1], []).append(Role(parts[2]))
        memberships = {org: role for org, held in roles.items() if (role := highest(held))}
        return StaffMember(subject, name, email, operator, memberships)


_ORGANIZATION_ROLES = frozenset(role.value for role in Role if role is not Role.OPERATOR)

"""Identity-provider groups become console roles, and each role gets only its permissions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmaas.domain.staff import (
    OPERATOR_SCOPE,
    ROLE_PERMISSIONS,
    AdminScope,
    GroupMapping,
    Permission,
    Role,
    StaffMember,
    highest,
)

GROUPS = GroupMapping()
PLATFORM = {Permission.PLATFORM_READ, Permission.PLATFORM_WRITE}
WRITES = {Permission.KEYS_WRITE, Permission.PLATFORM_WRITE}


def member_of(*groups: str, mapping: GroupMapping = GROUPS) -> StaffMember:
    return mapping.member("sso:alice", "Alice", "alice@example.fr", groups)


def test_an_organization_group_gives_that_role_there() -> None:
    alice = member_of("llmaas:acme:admin")
    assert not alice.operator
    assert dict(alice.memberships) == {"acme": Role.ADMIN}
    assert alice.subject == "sso:alice"
    assert alice.name == "Alice"
    assert alice.email == "alice@example.fr"


def test_the_operator_group_makes_a_platform_operator() -> None:
    alice = member_of("llmaas:operator")
    assert alice.operator
    assert dict(alice.memberships) == {}


def test_an_operator_named_inside_an_organization_is_no_operator() -> None:
    alice = member_of("llmaas:acme:operator")
    assert not alice.operator
    assert dict(alice.memberships) == {}
    assert alice.scope_in("acme") is None


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (["llmaas:acme:viewer", "llmaas:acme:admin"], Role.ADMIN),
        (["llmaas:acme:billing", "llmaas:acme:viewer"], Role.BILLING),
        (["llmaas:acme:admin", "llmaas:acme:owner", "llmaas:acme:viewer"], Role.OWNER),
        (["llmaas:acme:viewer", "llmaas:acme:viewer"], Role.VIEWER),
    ],
)
def test_the_highest_of_several_roles_wins(groups: list[str], expected: Role) -> None:
    assert dict(member_of(*groups).memberships) == {"acme": expected}


def test_roles_in_several_organizations_are_kept_apart() -> None:
    alice = member_of("llmaas:acme:owner", "llmaas:globex:viewer", "llmaas:acme:billing")
    assert dict(alice.memberships) == {"acme": Role.OWNER, "globex": Role.VIEWER}
    assert alice.organizations == ("acme", "globex")


@pytest.mark.parametrize(
    "group",
    [
        "llmaas:acme:superuser",  # unknown role
        "llmaas:acme:Admin",  # roles are exact
        "other:acme:admin",  # another application's prefix
        "llmaasx:acme:admin",
        "xllmaas:operator",
        "llmaas",
        "llmaas:",
        "llmaas::admin",  # no organization
        "llmaas:acme",
        "llmaas:acme:",
        "llmaas:acme:admin:extra",
        "llmaas:operator:extra",
        "llmaas:admin",
        ":llmaas:acme:admin",
        "",
        "cn=llmaas-admins,ou=groups,dc=example,dc=fr",
    ],
)
def test_groups_that_match_no_pattern_are_ignored(group: str) -> None:
    alice = member_of(group)
    assert not alice.operator
    assert dict(alice.memberships) == {}


def test_a_custom_prefix_replaces_the_default() -> None:
    corp = GroupMapping("corp-ai")
    assert dict(member_of("corp-ai:acme:viewer", mapping=corp).memberships) == {"acme": Role.VIEWER}
    assert dict(member_of("llmaas:acme:viewer", mapping=corp).memberships) == {}
    assert member_of("corp-ai:operator", mapping=corp).operator


def test_highest_orders_operator_owner_admin_billing_viewer() -> None:
    assert highest([]) is None
    assert highest([Role.VIEWER, Role.OPERATOR, Role.BILLING]) is Role.OPERATOR
    assert highest([Role.ADMIN, Role.OWNER]) is Role.OWNER
    assert highest([Role.VIEWER, Role.ADMIN]) is Role.ADMIN
    assert highest([Role.VIEWER, Role.BILLING]) is Role.BILLING


def test_an_operator_sees_every_organization_with_every_permission() -> None:
    operator = StaffMember("sso:ops", "Ops", operator=True)
    for organization in ("acme", "globex", "default"):
        assert operator.role_in(organization) is Role.OPERATOR
        scope = operator.scope_in(organization)
        assert scope == OPERATOR_SCOPE
        assert scope is not None and scope.covers(organization)
        assert scope.permissions == frozenset(Permission)


def test_a_member_sees_only_their_organizations() -> None:
    alice = StaffMember("sso:alice", "Alice", memberships={"acme": Role.BILLING})
    assert alice.role_in("acme") is Role.BILLING
    assert alice.role_in("globex") is None
    assert alice.scope_in("globex") is None
    scope = alice.scope_in("acme")
    assert scope == AdminScope(ROLE_PERMISSIONS[Role.BILLING], "acme")
    assert scope is not None and scope.covers("acme") and not scope.covers("globex")


def test_every_role_has_its_permissions() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_a_viewer_changes_nothing() -> None:
    viewer = ROLE_PERMISSIONS[Role.VIEWER]
    assert not viewer & WRITES
    assert {Permission.KEYS_READ, Permission.USAGE_READ, Permission.CATALOG_READ} <= viewer


def test_billing_reads_neither_keys_nor_the_audit_trail() -> None:
    billing = ROLE_PERMISSIONS[Role.BILLING]
    assert Permission.KEYS_READ not in billing
    assert Permission.KEYS_WRITE not in billing
    assert Permission.AUDIT_READ not in billing
    assert Permission.USAGE_READ in billing


def test_owner_and_admin_run_their_organization() -> None:
    for role in (Role.OWNER, Role.ADMIN):
        permissions = ROLE_PERMISSIONS[role]
        assert {Permission.KEYS_WRITE, Permission.AUDIT_READ, Permission.USAGE_READ} <= permissions


def test_only_the_operator_has_platform_permissions() -> None:
    assert ROLE_PERMISSIONS[Role.OPERATOR] == frozenset(Permission)
    for role in Role:
        if role is not Role.OPERATOR:
            assert not ROLE_PERMISSIONS[role] & PLATFORM, role


def test_a_scope_allows_its_permissions_and_covers_its_organization() -> None:
    scope = AdminScope(frozenset({Permission.USAGE_READ}), "acme")
    assert scope.allows(Permission.USAGE_READ)
    assert not scope.allows(Permission.KEYS_READ)
    assert scope.covers("acme")
    assert not scope.covers("globex")
    assert not scope.covers("")


def test_a_scope_without_organization_covers_them_all() -> None:
    scope = AdminScope(frozenset(), None)
    assert scope.covers("acme") and scope.covers("globex")
    assert not scope.allows(Permission.KEYS_READ)


_ORGANIZATIONS = st.sampled_from(["acme", "globex", "initech", "default", "", "a:b"])
_ROLE_NAMES = st.sampled_from([*(r.value for r in Role), "superuser", "", "Admin"])
_STRUCTURED = st.builds(
    lambda prefix, org, role: f"{prefix}:{org}:{role}",
    st.sampled_from(["llmaas", "other", "LLMAAS"]),
    _ORGANIZATIONS,
    _ROLE_NAMES,
)
_ANY_GROUP = st.one_of(_STRUCTURED, st.text(max_size=30), st.just("llmaas:acme:operator"))


@given(st.lists(_ANY_GROUP, max_size=12), st.text(max_size=12))
def test_no_member_gets_the_platform_or_an_organization_it_is_not_in(
    groups: list[str], stranger: str
) -> None:
    member = member_of(*groups)
    if "llmaas:operator" in groups:
        assert member.operator
        return
    assert not member.operator
    named = {g.split(":")[1] for g in groups if g.startswith("llmaas:") and g.count(":") == 2}
    assert set(member.organizations) <= named
    for organization in member.organizations:
        scope = member.scope_in(organization)
        assert scope is not None
        assert not scope.permissions & PLATFORM
        assert scope.covers(organization)
        assert scope.organization_id == organization
    if stranger not in named:
        assert member.scope_in(stranger) is None
        assert member.role_in(stranger) is None
        for organization in member.organizations:
            scope = member.scope_in(organization)
            assert scope is not None and not scope.covers(stranger)

"""Who acts: the value services receive instead of an HTTP request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import Forbidden


class Role(StrEnum):
    programme_admin = "programme_admin"
    lab_manager = "lab_manager"
    enterprise_member = "enterprise_member"
    operator = "operator"


@dataclass(frozen=True)
class Actor:
    user_id: str | None
    role: Role | None
    owner_unit_id: str | None = None
    enterprise_id: str | None = None
    operator_id: str | None = None
    name: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == Role.programme_admin

    def manages_unit(self, owner_unit_id: str) -> bool:
        return self.is_admin or (self.role == Role.lab_manager and self.owner_unit_id == owner_unit_id)

    def require_unit_manager(self, owner_unit_id: str, what: str = "this owner unit") -> None:
        if not self.manages_unit(owner_unit_id):
            raise Forbidden(f"Only the lab managers of {what} or a programme admin may do this.")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("Only a programme admin may do this.")

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            names = ", ".join(r.value for r in roles)
            raise Forbidden(f"This action needs one of the roles: {names}.")


SYSTEM = Actor(user_id=None, role=Role.programme_admin, name="system")
"""The platform itself (jobs, fixtures, migrations)."""

"""Who may see which pages: each area of the web app takes the signed-in person as an ``Actor``
through one of these dependencies, and anyone with another role gets a 403 page naming the
account that may (``error_pages.wrong_role_page``). The enterprise's pages (/my/…) take
``MemberDep``, the lab manager's console (/unit/…) ``ManagerDep`` (always scoped to their own
owner unit: another unit's things answer 404), the programme office's console (/office/…)
``OfficeDep``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from instruments.actor import Actor, Role

from .signin import WebUserDep


class WrongRole(Exception):
    """A signed-in person asked for the pages of another role."""

    def __init__(self, role: Role) -> None:
        self.role = role


def member_actor(me: WebUserDep) -> Actor:
    if str(me.user.role) != Role.enterprise_member.value or not me.user.enterprise_id:
        raise WrongRole(Role.enterprise_member)
    return me.user.actor()


def manager_actor(me: WebUserDep) -> Actor:
    """A lab manager of one owner unit (``actor.owner_unit_id`` is always set)."""
    if str(me.user.role) != Role.lab_manager.value or not me.user.owner_unit_id:
        raise WrongRole(Role.lab_manager)
    return me.user.actor()


def office_actor(me: WebUserDep) -> Actor:
    if str(me.user.role) != Role.programme_admin.value:
        raise WrongRole(Role.programme_admin)
    return me.user.actor()


MemberDep = Annotated[Actor, Depends(member_actor)]
ManagerDep = Annotated[Actor, Depends(manager_actor)]
OfficeDep = Annotated[Actor, Depends(office_actor)]

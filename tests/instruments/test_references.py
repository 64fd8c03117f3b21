"""Every flush refuses a row whose foreign key names nothing, with the column as the field; a parent
pending in the same session, or already stored, is found."""

from __future__ import annotations

import pytest

from instruments.errors import InvalidInput
from instruments.references import check_references
from instruments.units import Lab, OwnerUnit


def test_an_unknown_reference_is_refused_naming_the_column(session):
    session.add(Lab(owner_unit_id="unit_nowhere", name="L"))
    with pytest.raises(InvalidInput) as err:
        session.flush()
    assert err.value.field == "owner_unit_id" and "unit_nowhere" in err.value.detail


def test_a_pending_parent_is_found(session):
    unit = OwnerUnit(name="U")
    session.add_all([unit, Lab(owner_unit_id=unit.id, name="L1")])
    check_references(session)  # no error: the unit is added in the same unit of work


def test_a_stored_parent_is_found_and_a_changed_reference_checked(session):
    unit = OwnerUnit(name="U")
    session.add(unit)
    session.commit()
    session.expunge_all()  # the check reads the database, not the identity map
    lab = Lab(owner_unit_id=unit.id, name="L2")
    session.add(lab)
    session.commit()
    lab.owner_unit_id = "unit_nowhere"
    session.add(lab)
    with pytest.raises(InvalidInput):
        session.flush()

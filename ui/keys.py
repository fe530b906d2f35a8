"""Primary key values with spaces around them, found before the first push and trimmed on request.

Marketing Cloud keeps a key exactly as sent: `" ann@example.org "` would be a row of its own,
apart from `"ann@example.org"`, and match no contact. Step 3 of the wizard asks `spaced_keys`
about the key columns chosen, warns (`warning`) and offers `trim_keys`, which trims the values in
the data set itself (with an audit entry), so every pathway of that data set gets clean keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlmodel import Session

from store import audit, key_spaces
from store.models import Audience, DataSet
from ui.transaction import transaction

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def _dataset_id(engine: Engine, audience_id: int) -> int:
    with Session(engine) as session:
        audience = session.get(Audience, audience_id)
        if audience is None:
            msg = "The audience no longer exists: choose it again on step 1."
            raise LookupError(msg)
        return audience.dataset_id


def spaced_keys(engine: Engine, audience_id: int, columns: Sequence[str]) -> dict[str, int]:
    """Key column -> how many of its values in the audience's data set have spaces around them.

    Raises:
        LookupError: the audience or its data set is gone.
        ValueError: a column is not one of the data set's.
    """
    if not columns:
        return {}
    return key_spaces.spaced_counts(engine, _dataset_id(engine, audience_id), columns)


def warning(counts: Mapping[str, int]) -> str | None:
    """The wizard's warning about spaced key values (plain text; column names are the user's)."""
    if not counts:
        return None
    what = "; ".join(f"{n:,} value(s) of {col}" for col, n in counts.items())
    return (
        f"Key values with spaces before or after them: {what}. Marketing Cloud would keep the "
        "spaces, so ' ann@example.org ' and 'ann@example.org' would become two rows. Trim them "
        "in the data set (recommended), or fix them at the source and upload again."
    )


def trim_keys(engine: Engine, audience_id: int, columns: Sequence[str], *, who: str) -> int:
    """Trim the spaces around the values of `columns` in the audience's data set; rows changed.

    Raises:
        LookupError: the audience or its data set is gone.
        ValueError: a column is not one of the data set's.
    """
    dataset_id = _dataset_id(engine, audience_id)
    changed = key_spaces.trim_values(engine, dataset_id, columns)
    with transaction(engine) as session:
        ds = session.get(DataSet, dataset_id)
        detail = f"{ds.name if ds else dataset_id}: {', '.join(columns)} ({changed:,} rows)"
        audit.record_audit(who, "trim key spaces", detail, session=session)
    return changed

"""SFMC's per-row verdicts turned into `RowOutcome`s (rejections are data, not exceptions).

Three APIs answer per row in three shapes: async results (`async_outcome`), the hub rowset's
batch-wide refusal (`rowset_outcome`) and SOAP row results (`soap_row_outcome`). All classify
SFMC's codes and messages into the `validationErrorType` names of `sfmc.fieldrules`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sfmc import fieldrules, soap
from sfmc.types import RowOutcome

# SOAP custom-object codes (reference §3b/§4.6) -> validationErrorType.
_CODE_TYPES: Mapping[int, str] = fieldrules.ERROR_TYPES
# Phrases of SFMC row messages -> validationErrorType; first match wins.
_MESSAGE_TYPES: tuple[tuple[str, str], ...] = (
    ("does not allow null", "NullValue"),
    ("required keys are missing", "NullValue"),
    ("exceeds the column's maximum length", "MaxLengthExceeded"),
    ("not a valid email", "InvalidEmailAddress"),
    ("not a valid phone", "InvalidPhone"),
    ("not a valid number", "InvalidNumber"),
    ("not a valid decimal", "InvalidDecimal"),
    ("not a valid date", "InvalidDate"),
    ("not a valid boolean", "InvalidBoolean"),
    ("violation of primary key", "PrimaryKeyViolation"),
    ("primary key", "PrimaryKeyViolation"),
    ("does not exist", "UnknownColumn"),
    ("at least one existing field", "UnknownColumn"),
    ("cannot locate the existing record", "NotFound"),
)
_FIELD_IN_MESSAGE = re.compile(r"\[([^\]]+)\]")


def _classify(message: str, code: object = None) -> str:
    try:
        by_code = _CODE_TYPES.get(int(code))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        by_code = None
    if by_code:
        return by_code
    lowered = message.lower()
    for phrase, error_type in _MESSAGE_TYPES:
        if phrase in lowered:
            return error_type
    return "UnexpectedError"


def _retryable(message: str) -> bool:
    # SQL deadlocks between concurrent async jobs on one DE (Segment retries these).
    return message.rstrip().endswith("Rerun the transaction.")


def unexpected(details: str) -> RowOutcome:
    """A row SFMC did not clearly accept or refuse: failed for now, worth sending again."""
    return RowOutcome(ok=False, error_type="UnexpectedError", error_details=details, retryable=True)


def async_outcome(item: Mapping[str, Any]) -> RowOutcome:
    """One item of `GET /data/v1/async/{id}/results`."""
    if str(item.get("status", "")).upper() == "OK":
        return RowOutcome(ok=True)
    message = str(item.get("message") or "")
    errors = item.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
    details = str(first.get("errorMessage") or message)
    return RowOutcome(
        ok=False,
        error_type=_classify(details, first.get("errorCode"))
        if first
        else _classify(message, item.get("errorCode")),
        error_details=details,
        field=str(first["name"]) if first.get("name") else None,
        retryable=_retryable(message) or _retryable(details),
    )


def rowset_outcome(data: Mapping[str, Any]) -> RowOutcome:
    """The outcome every row of a hub rowset batch gets when SFMC refuses the batch (400)."""
    extra = data.get("additionalErrors") or []
    first = extra[0] if extra and isinstance(extra[0], Mapping) else {}
    message = str(first.get("message") or data.get("message") or "SFMC rejected the batch")
    column, _, _ = message.partition(": ")
    field = column if column and " " not in column and column != message else None
    if field is None:
        match = _FIELD_IN_MESSAGE.search(message)
        field = match.group(1) if match else None
    return RowOutcome(
        ok=False,
        error_type=_classify(message),
        error_details=message,
        field=field,
        retryable=_retryable(message),
    )


def soap_row_outcome(result: soap.SoapResult) -> RowOutcome:
    """One SOAP row result (for example of a row Delete)."""
    if result.ok:
        return RowOutcome(ok=True)
    message = str(result.values.get("ErrorMessage") or result.status_message or "Error")
    match = _FIELD_IN_MESSAGE.search(message)
    return RowOutcome(
        ok=False,
        error_type=_classify(message, result.error_code),
        error_details=message,
        field=match.group(1) if match else None,
        retryable=_retryable(message),
    )


def pad_outcomes(outcomes: list[RowOutcome], n_rows: int) -> list[RowOutcome]:
    """Align outcomes to the submitted rows (SFMC is assumed to answer in submission order).

    When SFMC answers for fewer rows than were sent, the rest are marked unknown and retryable:
    re-sending an upsert is safe, silently counting it as written is not.
    """
    if len(outcomes) >= n_rows:
        return outcomes[:n_rows]
    unknown = unexpected("SFMC returned no result for this row; sync again to resend it.")
    return outcomes + [unknown] * (n_rows - len(outcomes))

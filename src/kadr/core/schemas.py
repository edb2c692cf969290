"""Schema pieces shared by every domain (the list body, `Paginated`, is in core.pagination)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict


def _iso_8601_only(value: Any) -> Any:
    """Pydantic reads numbers (and numeric strings, as every query value is) as unix times;
    kadr's date-times are ISO 8601 strings only, so a client's mistake is not silently a date."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and not value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("give an ISO 8601 date-time with a timezone, e.g. 2026-01-31T09:00:00Z")


# An ISO 8601 date-time with a timezone (`format: date-time` in OpenAPI), never a unix time.
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only)]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)

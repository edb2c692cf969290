"""Response shapes shared by every domain."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Paginated(Schema, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int

"""Placeholder health router (being written)."""

from fastapi import APIRouter

router = APIRouter()


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}

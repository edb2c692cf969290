"""Files shipped with kadr (the caption font)."""

from pathlib import Path

FONTS_DIR = Path(__file__).parent / "fonts"
CAPTION_FONT = "DejaVu Sans"

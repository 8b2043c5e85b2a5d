"""Themes as data: `themes/<name>.yaml` validated by a pydantic model, turned into Textual themes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from textual.color import Color, ColorParseError
from textual.theme import Theme

import studio_tui
from studio_tui.core import safefile
from studio_tui.core.errors import InputError
from studio_tui.core.loading import load_yaml_model

DEFAULT_THEME = "studio-dark"
FALLBACK_THEME = "textual-dark"
"""Used only when even the default theme file is missing or broken."""


def _colour(value: str) -> str:
    try:
        Color.parse(value)
    except ColorParseError as exc:
        raise ValueError(f"not a colour: {exc}") from None
    return value


ColourText = Annotated[str, AfterValidator(_colour)]


class ThemeFile(BaseModel):
    """One `themes/*.yaml` file: Textual's theme fields, every colour checked when loaded."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    """Defaults to the file name without `.yaml`."""
    dark: bool = True
    primary: ColourText
    secondary: ColourText | None = None
    accent: ColourText | None = None
    warning: ColourText | None = None
    error: ColourText | None = None
    success: ColourText | None = None
    foreground: ColourText | None = None
    background: ColourText | None = None
    surface: ColourText | None = None
    panel: ColourText | None = None
    boost: ColourText | None = None
    luminosity_spread: float = Field(0.15, ge=0, le=1)
    text_alpha: float = Field(0.95, ge=0, le=1)
    variables: dict[str, str] = {}

    def to_theme(self, fallback_name: str) -> Theme:
        fields = self.model_dump(exclude={"name"})
        return Theme(name=self.name or fallback_name, **fields)


def theme_dirs() -> list[Path]:
    """Where theme files live: the installed package's `_themes`, else the repository's `themes/`."""
    package = Path(studio_tui.__file__).resolve().parent
    return [folder for folder in (package / "_themes", package.parent / "themes") if folder.is_dir()][:1]


def load_theme_file(path: Path) -> Theme:
    """A validated Theme from one file; an InputError names the file, line and field when it is wrong."""
    spec = load_yaml_model(path, ThemeFile, kind=safefile.THEME)
    theme = spec.to_theme(path.stem)
    try:
        theme.to_color_system().generate()
    except Exception as exc:  # a value pydantic let through that Textual still rejects
        raise InputError(f"{path}: {exc}") from None
    return theme


@dataclass
class ThemeSet:
    themes: dict[str, Theme] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """One line per file that could not be used."""


def load_themes(folders: list[Path] | None = None) -> ThemeSet:
    """Every valid theme in the folders; broken files are reported, never raised."""
    found = ThemeSet()
    for folder in theme_dirs() if folders is None else folders:
        for path in sorted(folder.glob("*.yaml")):
            try:
                theme = load_theme_file(path)
            except InputError as exc:
                found.problems.append(str(exc))
                continue
            except Exception as exc:  # whatever a damaged file makes the YAML reader raise: never a crash
                found.problems.append(f"{path}: unreadable theme file ({type(exc).__name__}: {exc})")
                continue
            found.themes[theme.name] = theme
    return found


def choose_theme(wanted: str | None, available: set[str]) -> tuple[str, str | None]:
    """The theme to use and, when `wanted` cannot be used, a sentence saying why it fell back."""
    name = wanted or DEFAULT_THEME
    if name in available:
        return name, None
    fallback = DEFAULT_THEME if DEFAULT_THEME in available else FALLBACK_THEME
    return fallback, f"theme {name!r} is not available; using {fallback}"

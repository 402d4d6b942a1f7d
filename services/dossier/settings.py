"""The dossier service's own knobs (MOTCUA_DOSSIER_*); each has a safe default for `make run`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.dossier.domain.calendar import DAY_SWAPS_FILE


class DossierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_DOSSIER_", extra="ignore")

    # Office hours of the one-stop departments (Vietnam time), Monday to Friday.
    office_hours: str = "07:30-11:30,13:00-17:00"
    # Same-day procedures received at or after this time are due the next working day.
    same_day_cutoff: str = "15:00"
    # The operator-amended day swaps (working Saturdays, extra days off).
    day_swaps_file: Path = DAY_SWAPS_FILE
    # "Due soon" within this many office hours of the due time.
    due_soon_hours: float = 8.0
    # How long a procedure looked up over gRPC (not fed by an event) is trusted, seconds.
    procedure_cache_seconds: float = 300.0
    agency_cache_seconds: float = 600.0


@lru_cache
def dossier_settings() -> DossierSettings:
    return DossierSettings()

"""The one base class of goslim's artifact models: frozen, so a stage cannot change what another made."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """An immutable pydantic model; unknown fields are ignored (artifacts read back from JSON)."""

    model_config = ConfigDict(frozen=True)


class StrictFrozen(BaseModel):
    """An immutable pydantic model that refuses unknown fields (inputs a user or a stage writes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

"""The brain's one settings object."""

from __future__ import annotations

from titan_common.settings import ServiceSettings


class BrainSettings(ServiceSettings):
    pass

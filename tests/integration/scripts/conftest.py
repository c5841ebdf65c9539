"""The simulator fixtures of the execution tests (a real simulator process)."""

from tests.integration.execution.conftest import clean_sim, sim

__all__ = ["clean_sim", "sim"]

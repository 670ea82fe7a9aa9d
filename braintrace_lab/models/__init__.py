"""Model catalog shared by tests, tutorials and benchmarks."""
from .catalog import CATALOG, Fixture, fixture_names, get_fixture, mse_loss

__all__ = ['CATALOG', 'Fixture', 'fixture_names', 'get_fixture', 'mse_loss']

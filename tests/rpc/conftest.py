"""The `tether` binary under test (ctest passes --tether)."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    parser.addoption("--tether", default=str(ROOT / "build/dev/server/tether"))


@pytest.fixture(scope="session")
def tether(request):
    return request.config.getoption("--tether")

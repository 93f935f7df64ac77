"""Options for the router's loopback tests: the tether-shadow binary under test."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    parser.addoption("--shadow", default=str(ROOT / "build/dev/shadow/tether-shadow"))

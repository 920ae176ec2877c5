"""Shared test setup: every test gets its own empty cache folder, and no test downloads."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("VG_CACHE_DIR", str(cache))
    monkeypatch.setenv("VG_OFFLINE", "1")
    monkeypatch.setenv("VG_WARM", "0")  # servers started by tests never warm their empty store
    monkeypatch.delenv("VG_PUBLIC_DEMO", raising=False)
    monkeypatch.delenv("VG_DATA_DIR", raising=False)
    return cache


@pytest.fixture
def tiny():
    """A configuration that trains in well under a second on the 8x8 digits."""
    from core.base.config import RunConfig

    return RunConfig(dataset="digits", widths=(16, 16), epochs=1, batch_size=64, activation="tanh")


LONG = os.environ.get("VG_LONG_TESTS") == "1"


def pytest_collection_modifyitems(config, items):
    """Tests marked `long` (heavy checks: minutes on 2 cores) run only with VG_LONG_TESTS=1 (the
    README's long mode); otherwise they are deselected, and pytest's summary counts them so."""
    if LONG:
        return
    long_items = [item for item in items if item.get_closest_marker("long")]
    if long_items:
        config.hook.pytest_deselected(items=long_items)
        items[:] = [item for item in items if not item.get_closest_marker("long")]

import os
import warnings

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import OPTIONAL, missing, skip_reason

# "ci" is the default: enough random cases to find bugs, few enough to keep the run short.
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Markers whose packages must be present (CI's second stage sets it, e.g. "torch keras"):
#: there a missing package stops the run instead of skipping its tests.
REQUIRED = "CONVOLVE_REQUIRED_REFERENCES"


def pytest_configure(config):
    required = os.environ.get(REQUIRED, "").replace(",", " ").split()
    unknown = [marker for marker in required if marker not in OPTIONAL]
    if unknown:
        raise pytest.UsageError(f"{REQUIRED} names unknown markers {unknown}; known: {sorted(OPTIONAL)}")
    absent = [f"{marker}: {skip_reason(marker)}" for marker in required if missing(marker)]
    if absent:
        raise pytest.UsageError(f"{REQUIRED} requires these, and they are missing: " + "; ".join(absent))


def pytest_collection_modifyitems(config, items):
    """Skip each test marked with an optional package's marker when that package is missing."""
    absent = {marker: skip_reason(marker) for marker in OPTIONAL if missing(marker)}
    for item in items:
        for marker in dict.fromkeys(mark.name for mark in item.iter_markers()):
            if marker in absent:
                item.add_marker(pytest.mark.skip(reason=absent[marker]))
                break


@pytest.fixture
def no_warnings():
    """Fails the test if any warning is issued inside it (Pillow's DecompressionBombWarning above all)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    assert [str(w.message) for w in caught] == []

"""A system component some tests need (JACK, PostgreSQL, a Secret Service) and that is not there.

In CI (CI=true) its absence fails the run: the tests that need it are the point, and a skip would let them
go quietly. Elsewhere the tests are skipped with the reason, which names the package to install.
"""

from __future__ import annotations

import os
from typing import NoReturn


def missing(component: str, reason: str) -> NoReturn:
    import pytest

    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{component} is required in CI but unavailable: {reason}")
    pytest.skip(f"{component} unavailable: {reason}")

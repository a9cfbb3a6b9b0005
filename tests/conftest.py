"""Suite-wide setup.

Reading Novita's ``GET /models`` before the first request to a base URL is on by default; the
suite turns it off so that each test's request log holds only the requests it makes. The tests of
the listing itself (tests/core/test_catalog.py and the adapters' profile tests) turn it back on.
"""

from __future__ import annotations

import os

os.environ["NOVITA_MODEL_LISTING"] = "0"

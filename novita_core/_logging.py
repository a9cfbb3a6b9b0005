"""Keep request bodies out of the ``openai`` SDK's DEBUG log unless the user opts in.

openai 2.x logs every request at DEBUG as ``Request options: {... 'json_data': {...}}``, which
holds the prompts (3.x no longer does). The key is never in it (the SDK adds auth headers later),
but prompts are user data, so :class:`RequestBodyFilter` replaces the body fields of that record
with a placeholder. Set ``NOVITA_LOG_REQUEST_BODIES=1`` to keep them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

BODY_OPT_IN_ENV = "NOVITA_LOG_REQUEST_BODIES"
OMITTED = f"<omitted; set {BODY_OPT_IN_ENV}=1 to log request bodies>"
_BODY_FIELDS = ("json_data", "extra_json", "content", "files")
# Logger filters only see records created on that very logger, not propagated ones.
SDK_LOGGER = "openai._base_client"


class RequestBodyFilter(logging.Filter):
    """Blank the body fields of the SDK's ``Request options`` debug record (never drops it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place and let the record through."""
        args = record.args
        if isinstance(args, Mapping) and any(args.get(f) is not None for f in _BODY_FIELDS):
            if os.environ.get(BODY_OPT_IN_ENV, "") not in ("", "0"):
                return True
            record.args = {
                key: (OMITTED if key in _BODY_FIELDS and value is not None else value)
                for key, value in args.items()
            }
        return True


def install() -> None:
    """Add the filter to the SDK's logger once (idempotent)."""
    logger = logging.getLogger(SDK_LOGGER)
    if not any(isinstance(f, RequestBodyFilter) for f in logger.filters):
        logger.addFilter(RequestBodyFilter())

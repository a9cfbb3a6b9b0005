"""Deterministic replies of the offline Novita server, one module per endpoint.

Everything here is pure computation on parsed JSON bodies: no sockets, no clocks except
``created`` timestamps. :mod:`~novita_core.testing.replies.chat` documents the rules the chat
"model" follows; :mod:`~novita_core.testing.replies.scripted` holds the exact replies a test
queues instead.
"""

from novita_core.testing.replies.chat import build_chat
from novita_core.testing.replies.chat_plan import ChatPlan
from novita_core.testing.replies.common import ApiError, dumps, error_body, reason_for_status
from novita_core.testing.replies.completions import CompletionPlan, build_completion
from novita_core.testing.replies.embeddings import build_embeddings, embed_text
from novita_core.testing.replies.models import ModelInfo, catalog_models, listing
from novita_core.testing.replies.schema import fill_schema

__all__ = [
    "ApiError",
    "ChatPlan",
    "CompletionPlan",
    "ModelInfo",
    "build_chat",
    "build_completion",
    "build_embeddings",
    "catalog_models",
    "dumps",
    "embed_text",
    "error_body",
    "fill_schema",
    "listing",
    "reason_for_status",
]

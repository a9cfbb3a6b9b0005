"""Every model class pickles, cloudpickles and deep-copies at any point of its life.

A copy carries the fields and the settings (the API key included: a worker needs it), never a
connection pool; the copy opens its own on first use and answers correctly, sync and async.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import cloudpickle
import httpx2
import pytest

from langchain_novita import ChatNovita, NovitaEmbeddings
from llama_index_novita import NovitaAI, NovitaEmbedding
from novita_core.testing import OfflineNovitaServer
from tests.scale.models import KIND_IDS, KINDS, Kind

pytestmark = pytest.mark.timeout(120)

COPIERS: dict[str, Callable[[Any], Any]] = {
    "pickle": lambda m: pickle.loads(pickle.dumps(m)),
    "cloudpickle": lambda m: cloudpickle.loads(cloudpickle.dumps(m)),
    "deepcopy": copy.deepcopy,
}
# What the model has done before it is copied.
HISTORIES = ("fresh", "after_sync", "after_async", "after_both")


def _use(kind: Kind, model: Any, history: str, tag: str) -> None:
    if history in ("after_sync", "after_both"):
        kind.check(kind.call(model, f"sync {tag}"), f"sync {tag}")
    if history in ("after_async", "after_both"):
        kind.check(kind.run_async(model, f"async {tag}"), f"async {tag}")


@pytest.mark.parametrize("copier", list(COPIERS))
@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_copies_work_at_any_point_of_life(
    kind: Kind, history: str, copier: str, novita_server: OfflineNovitaServer
) -> None:
    original = kind.build(novita_server)
    _use(kind, original, history, "original")

    clone = COPIERS[copier](original)

    assert type(clone) is type(original)
    kind.check(kind.call(clone, "copy sync"), "copy sync")
    kind.check(kind.run_async(clone, "copy async"), "copy async")
    # ... and the original is untouched by the copy's use.
    kind.check(kind.call(original, "original again"), "original again")
    assert all(record.authorized for record in novita_server.requests)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_a_pickle_carries_the_key_but_no_connection(
    kind: Kind, novita_server: OfflineNovitaServer
) -> None:
    model = kind.build(novita_server)
    kind.call(model, "warm")
    kind.run_async(model, "warm async")

    blob = pickle.dumps(model)

    assert novita_server.api_key.encode() in blob  # documented: a worker needs the key
    for marker in (b"httpx", b"aiohttp.", b"_NovitaOpenAI", b"_NovitaAsyncOpenAI", b"socket"):
        assert marker not in blob, marker


def test_copies_of_one_model_share_no_client_object(novita_server: OfflineNovitaServer) -> None:
    kind = KINDS[0]
    model = kind.build(novita_server)
    kind.call(model, "warm")
    clone = copy.deepcopy(model)
    kind.call(clone, "warm the copy")
    # Same settings, so the same process-wide pool; but each NovitaClient is its own object.
    assert clone._client is not model._client
    assert clone._client.openai_client is model._client.openai_client


LC_WITH_CLIENT: list[tuple[type, str, type]] = [
    (ChatNovita, "http_client", httpx2.Client),
    (NovitaEmbeddings, "http_async_client", httpx2.AsyncClient),
]
LI_WITH_CLIENT: list[tuple[type, str, type]] = [
    (NovitaAI, "http_client", httpx2.Client),
    (NovitaEmbedding, "async_http_client", httpx2.AsyncClient),
]


@pytest.mark.parametrize(
    ("cls", "field", "client_cls"),
    LC_WITH_CLIENT + LI_WITH_CLIENT,
    ids=lambda v: getattr(v, "__name__", v),
)
def test_a_user_http_client_is_refused_clearly_and_shared_by_deepcopy(
    cls: type, field: str, client_cls: type, novita_server: OfflineNovitaServer
) -> None:
    base = "base_url" if cls in (ChatNovita, NovitaEmbeddings) else "api_base"
    client = client_cls()
    try:
        model = cls(api_key=novita_server.api_key, **{base: novita_server.base_url, field: client})

        with pytest.raises(TypeError, match=rf"cannot pickle {cls.__name__} with {field}="):
            pickle.dumps(model)
        assert getattr(model, field) is client  # the refused pickle left the model as it was
        clone = copy.deepcopy(model)
        assert getattr(clone, field) is client
    finally:
        if isinstance(client, httpx2.Client):
            client.close()

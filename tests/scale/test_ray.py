"""The README's Ray Data recipe (its callable classes), on a local Ray cluster, offline.

Models are warmed in the driver (a call, so their pools exist) before Ray pickles them into
its actors; each actor opens its own pool. Every row's answer must be the one for its input.
Ray starts on 127.0.0.1 with 2 CPUs, no dashboard and no usage reporting.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
import ray.data

from langchain_novita import ChatNovita
from llama_index_novita import NovitaEmbedding
from novita_core.testing import OfflineNovitaServer
from novita_core.testing.replies import embed_text
from tests.scale.models import CHAT_MODEL, DIMENSIONS, EMBEDDING_MODEL

pytestmark = [pytest.mark.ray, pytest.mark.timeout(240)]

ROWS = 32
ACTORS = 2

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_recipe() -> dict[str, Any]:
    """The README's Ray Data classes (``Answerer``, ``Embedder``): its block up to ``ray.init``.

    Defined outside any importable module, so Ray pickles them by value into its workers.
    """
    section = README.read_text().split("### Scaling out with Ray Data", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {"__name__": "readme_ray_recipe"}
    exec(block[: block.index("ray.init(")], namespace)
    return namespace


RECIPE = readme_recipe()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
        )
        ray.data.DataContext.get_current().enable_progress_bars = False
        try:
            yield
        finally:
            ray.shutdown()


def test_chat_novita_answers_every_row_from_ray_actors(
    local_ray: None, novita_server: OfflineNovitaServer
) -> None:
    llm = ChatNovita(
        model=CHAT_MODEL, api_key=novita_server.api_key, base_url=novita_server.base_url
    )
    assert llm.invoke("warm up in the driver").content == "Echo: warm up in the driver"

    questions = [f"question number {i}" for i in range(ROWS)]
    rows = (
        ray.data.from_items([{"question": q} for q in questions])
        .map_batches(
            RECIPE["Answerer"],
            fn_constructor_kwargs={"llm": llm},
            compute=ray.data.ActorPoolStrategy(size=ACTORS),
            batch_size=8,
        )
        .take_all()
    )

    assert sorted(row["question"] for row in rows) == sorted(questions)
    for row in rows:
        assert row["answer"] == f"Echo: {row['question']}"
    answered = [r for r in novita_server.requests if r.path.endswith("/chat/completions")]
    assert len(answered) == ROWS + 1
    assert all(record.authorized for record in novita_server.requests)


def test_novita_embedding_embeds_every_row_from_ray_actors(
    local_ray: None, novita_server: OfflineNovitaServer
) -> None:
    embed_model = NovitaEmbedding(
        model_name=EMBEDDING_MODEL,
        api_key=novita_server.api_key,
        api_base=novita_server.base_url,
        embed_batch_size=4,
    )
    assert len(embed_model.get_text_embedding("warm up in the driver")) == DIMENSIONS

    texts = [f"passage number {i} about lighthouses" for i in range(ROWS)]
    rows = (
        ray.data.from_items([{"text": t} for t in texts])
        .map_batches(
            RECIPE["Embedder"],
            fn_constructor_kwargs={"embed_model": embed_model},
            compute=ray.data.ActorPoolStrategy(size=ACTORS),
            batch_size=8,
        )
        .take_all()
    )

    assert sorted(row["text"] for row in rows) == sorted(texts)
    for row in rows:
        assert list(row["vector"]) == pytest.approx(embed_text(row["text"], DIMENSIONS), abs=1e-6)

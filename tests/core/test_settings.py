"""Settings: argument > environment > default, and the key kept out of sight."""

from __future__ import annotations

import pytest

from novita_core import DEFAULT_BASE_URL, MissingAPIKeyError, NovitaClient, NovitaSettings

KEY = "sk-settings-secret-0123456789"


def test_key_from_argument_then_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVITA_API_KEY", "from-env")
    assert NovitaSettings.resolve(api_key=KEY).api_key == KEY
    assert NovitaSettings.resolve().api_key == "from-env"


def test_missing_key_names_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOVITA_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="NOVITA_API_KEY"):
        NovitaSettings.resolve()


def test_base_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NOVITA_BASE_URL", "NOVITA_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    assert NovitaSettings.resolve(api_key=KEY).base_url == DEFAULT_BASE_URL
    monkeypatch.setenv("NOVITA_API_BASE", "https://api.novita.ai/openai/")
    assert NovitaSettings.resolve(api_key=KEY).base_url == "https://api.novita.ai/openai"
    monkeypatch.setenv("NOVITA_BASE_URL", "https://api.novita.ai/openai/v1")
    assert NovitaSettings.resolve(api_key=KEY).base_url == "https://api.novita.ai/openai/v1"
    explicit = NovitaSettings.resolve(api_key=KEY, base_url="http://localhost:8000/v1")
    assert explicit.base_url == "http://localhost:8000/v1"


def test_env_cannot_downgrade_to_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVITA_BASE_URL", "http://api.novita.ai/v3/openai")
    with pytest.raises(ValueError, match="not an https URL"):
        NovitaSettings.resolve(api_key=KEY)
    monkeypatch.setenv("NOVITA_BASE_URL", "http://127.0.0.1:8765/v3/openai")
    assert NovitaSettings.resolve(api_key=KEY).base_url.startswith("http://127.0.0.1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"timeout": 0}, "timeout"),
        ({"max_retries": 1.5}, "max_retries"),
    ],
)
def test_bad_transport_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NovitaSettings.resolve(api_key=KEY, **kwargs)  # type: ignore[arg-type]


def test_key_never_in_repr() -> None:
    settings = NovitaSettings.resolve(api_key=KEY)
    client = NovitaClient(settings)
    for text in (repr(settings), str(settings), repr(client)):
        assert KEY not in text

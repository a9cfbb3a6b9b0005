"""Settings and client for an adapter's connection fields, rebuilt whenever those fields change.

Framework models are mutable (``llm.api_base = ...``) and copyable without validation
(pydantic's ``model_copy(update=...)``), so an adapter must not resolve its settings once at
construction and keep them: it asks :func:`connect` before each request, which returns the
previous :class:`Connection` while the fields are unchanged and a fresh one otherwise.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from novita_core.settings import NovitaSettings, check_picklable, sharing_memo

if TYPE_CHECKING:
    from typing_extensions import Self

    from novita_core.client import NovitaClient


@dataclass(frozen=True, repr=False)
class Connection:
    """The settings resolved from one set of connection fields, and their client.

    Args:
        fields: The keyword arguments given to :meth:`NovitaSettings.resolve`.
        settings: What they resolved to.

    Example:
        >>> connection = connect(None, api_key="sk-test", base_url="http://127.0.0.1:9/v1")
        >>> connect(connection, api_key="sk-test", base_url="http://127.0.0.1:9/v1") is connection
        True
    """

    fields: Mapping[str, Any]
    settings: NovitaSettings

    @property
    def client(self) -> NovitaClient:
        """The core client for these settings (built lazily: it imports the ``openai`` SDK)."""
        client: NovitaClient | None = self.__dict__.get("_client")
        if client is None:
            from novita_core.client import NovitaClient

            client = NovitaClient(self.settings)
            object.__setattr__(self, "_client", client)
        return client

    def __repr__(self) -> str:
        return f"Connection({self.settings!r})"


def connect(previous: Connection | None, **fields: Any) -> Connection:
    """``previous`` if it was made from the same ``fields``, else a newly resolved connection.

    Args:
        previous: The connection last returned for this model, if any.
        **fields: Keyword arguments of :meth:`NovitaSettings.resolve`.

    Raises:
        MissingAPIKeyError: no key in the fields or the environment.
        ValueError: a field is invalid (URL, timeout, retries, transport).
    """
    if previous is not None and _same(previous.fields, fields):
        return previous
    # Copies, so that editing a header dict in place is seen as a change next time.
    kept = {name: dict(v) if isinstance(v, dict) else v for name, v in fields.items()}
    return Connection(fields=kept, settings=NovitaSettings.resolve(**fields))


SETTINGS_ARGUMENTS = (
    "api_key",
    "base_url",
    "timeout",
    "max_retries",
    "default_headers",
    "http_client",
    "http_async_client",
    "async_transport",
    "max_retry_wait",
    "retry_policy",
    "model_listing",
)
"""The arguments of :meth:`NovitaSettings.resolve` an adapter model holds as fields."""


def connect_model(
    previous: Connection | None,
    model: object,
    field_names: tuple[str, ...] = SETTINGS_ARGUMENTS,
    **fixed: Any,
) -> Connection:
    """:func:`connect` with the settings arguments read from fields of ``model``.

    Args:
        previous: The connection last returned for this model, if any.
        model: The adapter model; a secret ``api_key`` (``get_secret_value()``) is unwrapped.
        field_names: The model's fields for :data:`SETTINGS_ARGUMENTS`, in that order (a
            framework may name some otherwise).
        **fixed: Further arguments of :meth:`NovitaSettings.resolve` (``base_url_argument``).
    """
    fields = dict(zip(SETTINGS_ARGUMENTS, _reader(field_names)(model), strict=True))
    key = fields["api_key"]
    if key is not None and not isinstance(key, str):
        fields["api_key"] = key.get_secret_value()
    return connect(previous, **fields, **fixed)


@functools.cache
def constructor_names(model_cls: type) -> frozenset[str]:
    """The keywords a pydantic model class's constructor takes: field names and their aliases.

    Both adapters' classes are pydantic models; they are read by their ``model_fields`` alone,
    so the core imports neither pydantic nor a framework.
    """
    names: set[str] = set()
    for name, info in model_cls.model_fields.items():  # type: ignore[attr-defined]
        names.add(name)
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                names.add(alias)
            else:  # pydantic's AliasChoices, or None
                names.update(c for c in getattr(alias, "choices", ()) if isinstance(c, str))
    return frozenset(names)


@functools.cache
def _reader(field_names: tuple[str, ...]) -> Callable[[object], tuple[Any, ...]]:
    return operator.attrgetter(*field_names)


def _same(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    # User-given HTTP clients are compared by identity: equal-looking clients are other pools.
    if old.keys() != new.keys():
        return False
    for name, value in new.items():
        before = old[name]
        if value is before:
            continue
        if name.startswith("http") or type(value) is not type(before) or value != before:
            return False
    return True


def picklable_state(
    owner: str, get_state: Callable[[], dict[Any, Any]], **http_clients: Any
) -> dict[Any, Any]:
    """A model's pickle state (from pydantic's ``__getstate__``) without its resolved connection.

    The receiving process resolves the connection again from the fields, and so builds its own
    pool; the API key travels in the fields (a worker needs it). The clients are checked before
    ``get_state`` runs: LlamaIndex's drops unpicklable fields from the live model.

    Raises:
        TypeError: a user-supplied HTTP client is set (see :func:`check_picklable`).
    """
    check_picklable(owner, **http_clients)
    state = get_state()
    private = state.get("__pydantic_private__")
    if private:
        state["__pydantic_private__"] = {**private, "_connection": None}
    return state


class ConnectedModel:
    """The connection behaviour of an adapter model, for both frameworks.

    Mixed in before the framework's pydantic base, whose ``__getstate__``/``__deepcopy__`` it
    extends; the model declares the connection fields and a private ``_connection`` (None).
    ``_connection_fields`` names its fields for :data:`SETTINGS_ARGUMENTS`, in that order;
    ``_connection_arguments`` are further arguments of :meth:`NovitaSettings.resolve`.

    Pickles (Ray, spawn pools, joblib, ``IngestionPipeline(num_workers=...)``) carry the fields,
    never the resolved connection or a pool: both are rebuilt lazily where used. Deep copies
    share the user's HTTP clients and carry the core client's settings only (the client builds
    its pool lazily).

    Example:
        ```python
        class MyConnection(ConnectedModel, pydantic.BaseModel):
            api_key: str | None = None
            base_url: str | None = None
            ...  # one field per name of SETTINGS_ARGUMENTS
            _connection: Connection | None = pydantic.PrivateAttr(default=None)
        ```
    """

    _connection_fields: ClassVar[tuple[str, ...]] = SETTINGS_ARGUMENTS
    _connection_arguments: ClassVar[Mapping[str, Any]] = {}
    _connection: Connection | None

    def _current_connection(self) -> Connection:
        """Settings and client for the current field values.

        Resolved again whenever a connection field changed since the last call: pydantic's
        ``model_copy(update=...)`` and attribute assignment skip the validators, and LlamaIndex
        models do not validate assignment at all.
        """
        connection = self._connection = connect_model(
            self._connection, self, self._connection_fields, **self._connection_arguments
        )
        return connection  # not re-read: a private attribute is read through __getattr__

    def _http_clients(self) -> dict[str, Any]:
        """The user's HTTP clients, by the model's field names."""
        return {
            field: getattr(self, field)
            for field, argument in zip(self._connection_fields, SETTINGS_ARGUMENTS, strict=True)
            if argument.startswith("http")
        }

    def __getstate__(self) -> dict[Any, Any]:
        get_state = super().__getstate__  # type: ignore[misc]  # pydantic's, after this mixin
        return picklable_state(type(self).__name__, get_state, **self._http_clients())

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        copied: Self = super().__deepcopy__(  # type: ignore[misc]  # pydantic's
            sharing_memo(memo, *self._http_clients().values())
        )
        return copied

"""Name -> object registries, one per kind; the YAML vocabulary lives here."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Generic, Literal, TypeVar, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

T = TypeVar("T")


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys and lax type coercion are errors."""

    # allow_inf_nan=False: a spec can never ask for an infinite rate or NaN init
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        validate_default=True,
        allow_inf_nan=False,
    )


class UnknownName(KeyError):
    """A name not in a registry; `str()` gives a did-you-mean message."""

    def __init__(self, kind: str, name: object, known: list[str]) -> None:
        self.kind, self.name, self.known = kind, name, known
        super().__init__(name)

    def __str__(self) -> str:
        msg = f"unknown {self.kind} {self.name!r}"
        close = difflib.get_close_matches(str(self.name).lower(), self.known, n=1)
        if close:
            msg += f"; did you mean {close[0]!r}?"
        return msg + f" (known: {', '.join(self.known)})"


_ALL: list[Registry[Any]] = []


def canonical_name(name: str) -> str | None:
    """The registered name `name` stands for in any registry (for error paths)."""
    for registry in _ALL:
        if name in registry:
            return registry.canonical(name)
    return None


class Registry(Generic[T]):
    """Maps lowercase snake_case names (and aliases) to registered objects."""

    def __init__(self, kind: str) -> None:
        _ALL.append(self)
        self.kind = kind
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        def decorate(obj: T) -> T:
            if name in self._items or name in self._aliases:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            for alias in aliases:
                self._aliases[alias] = name
            return obj

        return decorate

    def canonical(self, name: str) -> str:
        """The registered name for `name` or one of its aliases."""
        if name in self._items:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise UnknownName(self.kind, name, self.names())

    def get(self, name: str) -> T:
        return self._items[self.canonical(name)]

    def create(self, cfg: str | Mapping[str, Any]) -> Any:
        """Instantiate from a short (`"relu"`) or long (`{type: relu, ...}`) form.

        Each registered class takes its config's fields as keyword arguments;
        validation has already happened in the spec, so this does none.
        """
        if isinstance(cfg, str):
            cfg = {"type": cfg}
        kwargs = {k: v for k, v in cfg.items() if k != "type"}
        return self.get(cfg["type"])(**kwargs)

    def names(self, aliases: bool = False) -> list[str]:
        out = list(self._items)
        return sorted(out + list(self._aliases) if aliases else out)

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._items.items())


def named(registry: Registry[Any]) -> Any:
    """Pydantic type for a registered name, in short or long form.

    Accepts `"relu"` or `{type: relu, ...}`, canonicalises aliases, rejects
    unknown names with a did-you-mean, then validates the long form against the
    registered class's `Config` (a discriminated union on `type`). Built from
    what is registered when called, so call it after the registry is filled.
    """
    members = tuple(cls.Config for cls in registry._items.values())
    union: Any = (
        members[0]
        if len(members) == 1
        else Annotated[
            Union[members], Field(discriminator="type")  # noqa: UP007
        ]
    )
    short = Literal[tuple(registry.names(aliases=True))]  # type: ignore[valid-type]

    def canonicalise(value: Any) -> Any:
        if isinstance(value, str):
            value = {"type": value}
        if isinstance(value, dict):
            name = value.get("type")
            if name is None:
                raise PydanticCustomError(
                    "missing_type",
                    "missing key 'type' naming the {kind} (one of: {known})",
                    {"kind": registry.kind, "known": ", ".join(registry.names())},
                )
            if not isinstance(name, str) or name not in registry:
                raise PydanticCustomError(
                    "unknown_name",
                    str(UnknownName(registry.kind, name, registry.names())),
                )
            value = {**value, "type": registry.canonical(name)}
        return value

    return Annotated[
        union,
        BeforeValidator(canonicalise, json_schema_input_type=Union[short, union]),
    ]

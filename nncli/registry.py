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
        # validators are built when first used (the spec's union builds them
        # all): importing the engine's ~80 config classes stays cheap
        defer_build=True,
    )


def fold(name: str) -> str:
    """The form names are compared in: lowercase, underscores dropped.

    Keras accepts a class name (`Conv2D`, `MaxPooling2D`, `KLDivergence`) where
    it accepts the snake_case one, and a CamelCase -> snake_case conversion
    cannot tell `conv2_d` from `conv2d` or `k_l_divergence` from `kl_divergence`;
    folding both sides to `conv2d`, `maxpooling2d`, `kldivergence` can.
    """
    return name.lower().replace("_", "")


class UnknownName(KeyError):
    """A name not in a registry; `str()` gives a did-you-mean message."""

    def __init__(
        self, kind: str, name: object, known: list[str], ambiguous: list[str] = ()
    ) -> None:
        self.kind, self.name, self.known = kind, name, known
        self.ambiguous = list(ambiguous)
        super().__init__(name)

    def __str__(self) -> str:
        if self.ambiguous:
            return f"ambiguous {self.kind} {self.name!r}: write one of " + ", ".join(
                repr(n) for n in self.ambiguous
            )
        msg = f"unknown {self.kind} {self.name!r}"
        folded = {fold(n): n for n in reversed(self.known)}
        close = difflib.get_close_matches(fold(str(self.name)), list(folded), n=1)
        if close:
            msg += f"; did you mean {folded[close[0]]!r}?"
        return msg + f" (known: {', '.join(self.known)})"


_ALL: list[Registry[Any]] = []


def canonical_names(name: str) -> set[str]:
    """The registered names `name` stands for in every registry (for error paths)."""
    return {registry.canonical(name) for registry in _ALL if name in registry}


class Registry(Generic[T]):
    """Maps lowercase snake_case names (and aliases) to registered objects.

    Lookups also take a name in another case or Keras's class-name form
    (`Adam`, `MaxPooling2D`, `MSE`): names are matched after `fold()`, and a
    folded form that two registered names share is refused as ambiguous.
    """

    def __init__(self, kind: str) -> None:
        _ALL.append(self)
        self.kind = kind
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._folded: dict[str, set[str]] = {}  # fold(name or alias) -> names

    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        def decorate(obj: T) -> T:
            if name in self._items or name in self._aliases:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            for alias in aliases:
                self._aliases[alias] = name
            for written in (name, *aliases):
                self._folded.setdefault(fold(written), set()).add(name)
            return obj

        return decorate

    def canonical(self, name: str) -> str:
        """The registered name for `name` or one of its aliases."""
        if name in self._items:
            return name
        if name in self._aliases:
            return self._aliases[name]
        found = (
            sorted(self._folded.get(fold(name), ())) if isinstance(name, str) else []
        )
        if len(found) == 1:
            return found[0]
        raise UnknownName(self.kind, name, self.names(), ambiguous=found)

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
        """Whether `name` resolves to exactly one registered name."""
        if name in self._items or name in self._aliases:
            return True
        return isinstance(name, str) and len(self._folded.get(fold(name), ())) == 1

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._items.items())


def named(registry: Registry[Any]) -> Any:
    """Pydantic type for a registered name, in short or long form.

    Accepts `"relu"` or `{type: relu, ...}`, canonicalises aliases and other
    spellings (`ReLU`, `Conv2D`: see `Registry`), rejects
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
            try:
                if not isinstance(name, str):
                    raise UnknownName(registry.kind, name, registry.names())
                canonical = registry.canonical(name)  # `Adam`, `MSE` -> snake_case
            except UnknownName as e:
                raise PydanticCustomError("unknown_name", str(e)) from None
            value = {**value, "type": canonical}
        return value

    return Annotated[
        union,
        BeforeValidator(canonicalise, json_schema_input_type=Union[short, union]),
    ]

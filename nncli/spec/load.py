"""YAML text -> validated RunSpec, with every error tied to its file, line and path.

The loader is PyYAML's safe loader with these changes: scalars follow YAML 1.2's
core schema (`1e-3` is a number, not the string PyYAML's YAML 1.1 makes of it;
`on`/`yes` are text, not booleans; `010` is ten), duplicate keys are errors, the
line of every key is kept so validation errors can cite it, and alias
expansion is capped.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from nncli.errors import Issue, SpecError

# YAML path -> (line, column, written explicitly rather than merged by `<<`)
Lines = dict[str, tuple[int, int, bool]]

# YAML 1.2 core-schema floats, including the exponent forms YAML 1.1 misses.
_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)


# YAML 1.2 core-schema booleans and integers: `yes`/`no`/`on`/`off` stay text,
# `010` is ten (not octal 8), `1:30` is text (not 90), `1_000` is text.
_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_12 = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_REPLACED = {
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
}


class _Loader(yaml.SafeLoader):
    """Safe loader whose implicit scalar rules are YAML 1.2's core schema."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if len(text) > 100:  # Python refuses int() of 4300+ digits; no spec needs 100
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(text)} digits", node.start_mark
            )
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text, 10)


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in _REPLACED]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# order matters: the first matching rule wins, and every int also looks like a float
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_12, list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT_12, list("-+0123456789"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789.")
)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


@dataclass
class SpecSource:
    """Raw spec data plus where each key came from."""

    data: dict[str, Any]
    file: str
    lines: Lines = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)  # path -> `--set` text
    moved: dict[str, str] = field(default_factory=dict)  # validated path -> written


def parse_yaml(text: str, file: str) -> tuple[Any, Lines]:
    """Parse YAML text; raise SpecError with line and column on any problem."""
    for n, line in enumerate(text.splitlines(), 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            col = indent.index("\t") + 1
            raise SpecError(
                [
                    Issue(
                        "",
                        "tab character in indentation; YAML "
                        "indentation must use spaces",
                        file,
                        n,
                        col,
                    )
                ]
            )
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        lines: Lines = {}
        data = _construct(loader, node, "", lines, file) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        if "'\\t'" in problem or "\\t" in repr(problem):
            problem += "; YAML separators and indentation must use spaces, not tabs"
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise SpecError([Issue("", f"invalid YAML: {problem}", file, line, col)]) from e
    except RecursionError as e:
        raise SpecError([Issue("", "invalid YAML: nested too deeply", file)]) from e
    except yaml.YAMLError as e:
        raise SpecError(
            [Issue("", f"invalid YAML: {e}".replace("\n", " "), file)]
        ) from e
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


MAX_VALUES = 100_000  # a spec is small; more means an alias bomb or a mistake


def _construct(
    loader: _Loader,
    node: yaml.Node,
    path: str,
    lines: Lines,
    file: str,
    memo: dict[int, Any] | None = None,
) -> Any:
    """Build Python data from a node, recording each key's line.

    A node reached again through a YAML alias is built once and shared (`memo`),
    and the whole expanded document is capped at MAX_VALUES values, so
    "billion laughs" alias chains fail fast instead of hanging.
    """
    if memo is None:
        memo = {}
        if _expanded_size(node, {}) > MAX_VALUES:
            raise SpecError(
                [
                    Issue(
                        "",
                        f"the spec expands to more than {MAX_VALUES:,} "
                        "values (through YAML aliases?)",
                        file,
                    )
                ]
            )
    if id(node) in memo:
        return memo[id(node)]
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = memo.setdefault(id(node), {})
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)  # resolve `<<` merge keys; they come first
        merged = len(node.value) - explicit
        for n, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if isinstance(key, int) and not isinstance(key, bool):
                key = str(key)  # class_weight: {0: 1.0, 1: 5.0} means class ids
            if not isinstance(key, str):
                raise SpecError(
                    [Issue(path, f"keys must be text, got {key!r}", file, *where)]
                )
            sub = f"{path}.{key}" if path else key
            if key in out and n >= merged and sub in lines and lines[sub][2]:
                raise SpecError(
                    [
                        Issue(
                            sub,
                            f"duplicate key {key!r} (first set on line "
                            f"{lines[sub][0]})",
                            file,
                            *where,
                        )
                    ]
                )
            lines[sub] = (*where, n >= merged)  # explicit keys may not repeat
            out[key] = _construct(loader, value_node, sub, lines, file, memo)
        return out
    if isinstance(node, yaml.SequenceNode):
        items: list[Any] = memo.setdefault(id(node), [])
        for i, item in enumerate(node.value):
            sub = f"{path}[{i}]"
            lines[sub] = (item.start_mark.line + 1, item.start_mark.column + 1, True)
            items.append(_construct(loader, item, sub, lines, file, memo))
        return items
    return loader.construct_object(node, deep=True)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values in the document once every alias is expanded (memoised per node)."""
    if id(node) not in sizes:
        sizes[id(node)] = 1  # guards recursive aliases, which PyYAML rejects anyway
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        sizes[id(node)] = 1 + sum(_expanded_size(c, sizes) for c in children)
        sizes[id(node)] = min(sizes[id(node)], MAX_VALUES + 1)
    return sizes[id(node)]


def read_spec(path: Path) -> SpecSource:
    """Read a spec file into raw data (not yet validated)."""
    file = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(
            [Issue("", f"spec file not found (resolved to {path.resolve()})", file)]
        ) from None
    except OSError as e:
        raise SpecError(
            [Issue("", f"cannot read spec file: {e.strerror}", file)]
        ) from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SpecError([Issue("", f"not UTF-8 text (byte {e.start})", file)]) from e
    data, lines = parse_yaml(text, file)
    if data is None:
        raise SpecError([Issue("", "the spec is empty", file)])
    if not isinstance(data, dict):
        raise SpecError(
            [
                Issue(
                    "",
                    "the spec must be a mapping of keys (data, model, "
                    f"loss, ...), got {type(data).__name__}",
                    file,
                    1,
                    1,
                )
            ]
        )
    return SpecSource(data, file, lines)


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_KEY = re.compile(r"[A-Za-z_][\w-]*(\[\d+\])*(\.[A-Za-z_][\w-]*(\[\d+\])*)*")


def apply_override(src: SpecSource, text: str) -> None:
    """Apply one `--set dotted.path=value`; the value is parsed as YAML."""
    where = f"--set {text}"
    if "=" not in text:
        raise SpecError(
            [Issue("", "expected KEY=VALUE, e.g. optimizer.learning_rate=0.01", where)]
        )
    key, value_text = text.split("=", 1)
    key = key.strip()
    if not _KEY.fullmatch(key):
        raise SpecError(
            [
                Issue(
                    "",
                    f"malformed key {key!r}; write a dotted path like "
                    "optimizer.learning_rate or model.layers[0].units",
                    where,
                )
            ]
        )
    parts = [
        m.group(1) if m.group(1) is not None else int(m.group(2))
        for m in _PATH_PART.finditer(key)
    ]
    value, _ = parse_yaml(value_text.strip(), where)
    node: Any = src.data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        child = (
            node.get(part)
            if isinstance(node, dict)
            else (
                node[part]
                if isinstance(node, list) and isinstance(part, int) and part < len(node)
                else None
            )
        )
        if isinstance(child, str) and isinstance(nxt, str):
            child = {"type": child}  # expand a short form: optimizer: sgd
        if child is None:
            child = {} if isinstance(nxt, str) else []
        if (
            isinstance(node, dict)
            and isinstance(part, str)
            or isinstance(node, list)
            and isinstance(part, int)
            and part < len(node)
        ):
            node[part] = child
        else:
            raise SpecError([Issue(key, _no_place(node, part), where)])
        node = child
    last = parts[-1]
    if (
        isinstance(node, dict)
        and isinstance(last, str)
        or isinstance(node, list)
        and isinstance(last, int)
        and last < len(node)
    ):
        node[last] = value
    else:
        raise SpecError([Issue(key, _no_place(node, last), where)])
    done = _path_str(parts)
    src.overrides[done] = where
    for stale in [p for p in src.lines if p.startswith((done + ".", done + "["))]:
        del src.lines[stale]  # the file's lines below a replaced value no longer apply


def _no_place(node: Any, part: Any) -> str:
    if isinstance(node, list):
        if isinstance(part, int):
            return f"index [{part}] is past the end of a list of {len(node)} item(s)"
        return f"{part!r} is a key, but this is a list: use an index like [0]"
    if isinstance(node, dict):
        return f"[{part}] is an index, but this is a mapping: use .key"
    return "does not name a place in the spec"


def _path_str(parts: list[Any] | tuple[Any, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def validate(src: SpecSource) -> BaseModel:
    """Validate raw spec data; raise SpecError listing every problem."""
    from nncli.spec.schema import run_spec_model

    model = run_spec_model()
    data = _input_shape_from_first_layer(src)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        issues = [_issue(src, data, model, err) for err in e.errors()]
        issues.sort(key=lambda i: (i.file != src.file, i.line or 0, i.column or 0))
        raise SpecError(_dedupe(issues)) from None


_LAYER_INPUT = ("input_shape", "input_dim")  # Keras's first-layer input arguments


def _input_shape_from_first_layer(src: SpecSource) -> Any:
    """`src.data` with a first layer's Keras-style `input_shape` (or `input_dim:
    n`, meaning [n]) moved to model.input_shape, where the engine reads it.

    Only when model.input_shape is absent and the first layer gives one of the
    two; anything else stays put and is reported (see `_old_key_hint`). Errors
    about the moved value still cite the first layer (`src.moved`).
    """
    model = src.data.get("model") if isinstance(src.data, dict) else None
    layers = model.get("layers") if isinstance(model, dict) else None
    first = layers[0] if isinstance(layers, list) and layers else None
    given = [k for k in _LAYER_INPUT if isinstance(first, dict) and k in first]
    if len(given) != 1 or "input_shape" in model:
        return src.data
    (key,) = given
    shape = first[key]
    if key == "input_dim":
        shape = [shape]
        src.moved["model.input_shape[0]"] = "model.layers[0].input_dim"
    rest = {k: v for k, v in first.items() if k != key}
    src.moved["model.input_shape"] = f"model.layers[0].{key}"
    model = {**model, "input_shape": shape, "layers": [rest, *layers[1:]]}
    return {**src.data, "model": model}


def load_spec(path: Path, overrides: list[str] = ()) -> BaseModel:
    """Read, override and validate a spec file."""
    src = read_spec(path)
    for text in overrides:
        apply_override(src, text)
    return validate(src)


def _issue(
    src: SpecSource, data: Any, model: type[BaseModel], err: dict[str, Any]
) -> Issue:
    loc = _data_loc(data, err["loc"])
    return _place(src, loc, _message(model, data, loc, err))


def _place(src: SpecSource, loc: tuple[Any, ...], message: str) -> Issue:
    """An issue at `loc`, with the line of the nearest enclosing key or the
    `--set` that put the value there."""
    path = _path_str(loc)
    for new, written in src.moved.items():  # cite the key as the user wrote it
        if path == new or path.startswith((new + ".", new + "[")):
            loc = _split_path(written + path[len(new) :])
            path = _path_str(loc)
            break
    for n in range(len(loc), -1, -1):
        p = _path_str(loc[:n])
        if p in src.overrides:
            return Issue(path, message, src.overrides[p])
    for key, where in src.overrides.items():  # a --set that created this key
        if key.startswith((path + ".", path + "[")):
            return Issue(path, message, where)
    for n in range(len(loc), -1, -1):
        p = _path_str(loc[:n])
        if p in src.lines:
            return Issue(path, message, src.file, *src.lines[p][:2])
    return Issue(path, message, src.file)


def locate(src: SpecSource, issue: Issue) -> Issue:
    """Give an issue raised after validation (path only) its file and line."""
    if issue.file is not None:
        return issue
    return _place(src, _split_path(issue.path), issue.message)


def _split_path(path: str) -> tuple[Any, ...]:
    """`model.layers[0].units` -> ("model", "layers", 0, "units")."""
    return tuple(
        int(p[1:-1]) if p.startswith("[") else p
        for p in re.findall(r"\[\d+\]|[^.\[\]]+", path)
    )


def _data_loc(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the union-tag steps pydantic inserts (`kernel_initializer.zeros.x`).

    A tag comes straight after the field holding a named thing, at most once per
    node, so a field that shares its type's name (`l2: {type: l2, l2: -1}`) is
    not mistaken for one.
    """
    out: list[Any] = []
    node, tag_possible = data, True
    for part in loc:
        if isinstance(part, str) and part.startswith("<") and part.endswith(">"):
            continue  # a tag of a union picked by the value's type (<rate>)
        if tag_possible and isinstance(part, str) and _is_tag(node, part):
            tag_possible = False
            continue
        if (
            isinstance(node, dict)
            and part in node
            or isinstance(node, list)
            and isinstance(part, int)
            and part < len(node)
        ):
            node = node[part]
        else:
            node = None
        tag_possible = True
        out.append(part)
    return tuple(out)


def _is_tag(node: Any, part: str) -> bool:
    name = node.get("type") if isinstance(node, dict) else node
    return isinstance(name, str) and part in _names(name)


def _message(model: type[BaseModel], data: Any, loc: tuple[Any, ...], err: dict) -> str:
    kind, given = err["type"], err.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(model, data, loc)
    if kind == "missing":
        return f"missing required key {loc[-1]!r}" if loc else "missing required key"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected an integer, got {_show(given)}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {_show(given)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_show(given)}"
    if kind in ("string_type",):
        return f"expected text, got {_show(given)}"
    if kind in ("list_type",):
        return f"expected a list, got {_show(given)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys, got {_show(given)}"
    ctx = err.get("ctx") or {}
    for key, word in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if kind.startswith(("greater_than", "less_than")) and key in ctx:
            return f"expected a value {word} {ctx[key]}, got {_show(given)}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected', 'one of the allowed values')}, got {_show(given)}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s), got {_show(given)}"
    if kind == "union_tag_invalid":
        return f"unknown type {_show(ctx.get('tag'))}"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


def _show(value: Any) -> str:
    if value is None or isinstance(value, bool):  # as the YAML spelled it
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict | list):
        text = repr(value)
        return text if len(text) < 60 else text[:57] + "..."
    return (
        f"{value!r} ({type(value).__name__})"
        if not isinstance(value, int | float) or isinstance(value, bool)
        else repr(value)
    )


# Keys that Keras 1/2, tf.keras or pandas-minded users write for one that nncli
# spells another way: key -> (why, candidates). The hint names the first
# candidate the mapping holding the key has (or, at the top level, the section
# that has it); a dotted candidate is a place elsewhere in the spec.
OLD_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "lr": ("Keras 2's name", ("learning_rate",)),
    "decay": (
        "Keras 2's per-update decay is a schedule now: learning_rate: "
        "{type: inverse_time_decay, initial_learning_rate: ..., decay_steps: 1, "
        "decay_rate: ...}",
        ("learning_rate",),
    ),
    "nb_epoch": ("Keras 1's name", ("epochs",)),
    "nb_epochs": ("Keras 1's name", ("epochs",)),
    "label": ("the labels are the target column(s)", ("target",)),
    "labels": ("the labels are the target column(s)", ("target",)),
    "y_col": ("the labels are the target column(s)", ("target",)),
    "label_col": ("the labels are the target column(s)", ("target",)),
    "target_col": ("the labels are the target column(s)", ("target",)),
    "validation_data": ("Keras fit()'s name (here a file)", ("validation",)),
    "input_shape": (
        "Keras reads it from the first layer only",
        ("model.input_shape",),
    ),
    "input_dim": ("Keras reads it from the first layer only", ("model.input_shape",)),
    "output_dim": ("Keras 1's name", ("units",)),
    "nb_filter": ("Keras 1's name", ("filters",)),
    "filter_length": ("Keras 1's name", ("kernel_size",)),
    "nb_row": ("Keras 1's name", ("kernel_size",)),
    "nb_col": ("Keras 1's name", ("kernel_size",)),
    "subsample": ("Keras 1's name", ("strides",)),
    "subsample_length": ("Keras 1's name", ("strides",)),
    "stride": ("Keras 1's name", ("strides",)),
    "pool_length": ("Keras 1's name", ("pool_size",)),
    "border_mode": ("Keras 1's name", ("padding",)),
    "atrous_rate": ("Keras 1's name", ("dilation_rate",)),
    "p": ("Keras 1's name", ("rate",)),
    "sigma": ("Keras 1's name", ("stddev",)),
    "init": (
        "Keras 1's name",
        ("kernel_initializer", "embeddings_initializer", "depthwise_initializer"),
    ),
    "inner_init": ("Keras 1's name", ("recurrent_initializer",)),
    "inner_activation": ("Keras 1's name", ("recurrent_activation",)),
    "W_regularizer": (
        "Keras 1's name",
        ("kernel_regularizer", "embeddings_regularizer", "depthwise_regularizer"),
    ),
    "U_regularizer": ("Keras 1's name", ("recurrent_regularizer",)),
    "b_regularizer": ("Keras 1's name", ("bias_regularizer",)),
    "W_constraint": (
        "Keras 1's name",
        ("kernel_constraint", "embeddings_constraint", "depthwise_constraint"),
    ),
    "U_constraint": ("Keras 1's name", ("recurrent_constraint",)),
    "b_constraint": ("Keras 1's name", ("bias_constraint",)),
    "bias": ("Keras 1's name", ("use_bias",)),
    "dropout_W": ("Keras 1's name", ("dropout",)),
    "dropout_U": ("Keras 1's name", ("recurrent_dropout",)),
}


def _old_key_hint(
    model: type[BaseModel], data: Any, loc: tuple[Any, ...], known: list[str]
) -> str | None:
    """The targeted hint for a key in `OLD_KEYS`, if it applies here."""
    key = str(loc[-1])
    if key in _LAYER_INPUT and loc[:3] == ("model", "layers", 0) and len(loc) == 4:
        if "input_shape" in data["model"]:
            return "model.input_shape gives the input shape already; give it once"
        return f"give {' or '.join(_LAYER_INPUT)} on the first layer, not both"
    why, candidates = OLD_KEYS.get(key, ("", ()))
    for new in candidates:
        if "." in new and len(loc) > 2:  # at the top level _home_of says where
            return f"{why}; nncli takes it as {new}"
        if new in known:
            return f"{why}; use {new!r}"
        home = _home_of(model, data, new) if len(loc) == 1 else None
        if home:
            return f"{why}; use {new!r} under {home!r}"
    return None


def _unknown_key(model: type[BaseModel], data: Any, loc: tuple[Any, ...]) -> str:
    key = str(loc[-1])
    parent = _model_at(model, data, loc[:-1])
    known = list(parent.model_fields) if parent else []
    msg = f"unknown key {key!r}"
    hint = _old_key_hint(model, data, loc, known)
    if hint:
        return f"{msg}: {hint}"
    lower = {k.lower(): k for k in known}
    if key.lower() in lower and key not in known:
        return msg + f"; keys are case-sensitive: did you mean {lower[key.lower()]!r}?"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    if close:
        return msg + f"; did you mean {close[0]!r}?"
    home = _home_of(model, data, key) if len(loc) == 1 else None
    if home:
        return msg + f" at the top level; it belongs under {home!r}"
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return msg + f"; did you mean {close[0]!r}?"
    return msg + (f" (known keys: {', '.join(known)})" if known else "")


def _model_at(
    model: type[BaseModel], data: Any, loc: tuple[Any, ...]
) -> type[BaseModel] | None:
    """The pydantic model class that validates the mapping at `loc`."""
    current: Any = model
    node = data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            current = _list_item(current)
            continue
        current = _pick_model(current, node)
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        node = node.get(part) if isinstance(node, dict) else None
        current = info.annotation
    current = _pick_model(current, node)
    return (
        current
        if isinstance(current, type) and issubclass(current, BaseModel)
        else None
    )


def _list_item(annotation: Any) -> Any:
    """The item type of the list inside `annotation` (`list[X] | None` -> X)."""
    import typing

    for a in _flatten_unions(annotation):
        if typing.get_origin(a) is list and typing.get_args(a):
            return typing.get_args(a)[0]
    return None


def _flatten_unions(annotation: Any) -> list[Any]:
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [x for a in typing.get_args(annotation) for x in _flatten_unions(a)]
    if origin is typing.Annotated:
        return _flatten_unions(typing.get_args(annotation)[0])
    return [annotation]


def _names(name: Any) -> set[Any]:
    """`name` and the registered names it stands for (`Dense` -> dense)."""
    from nncli.registry import canonical_names

    return {name, *canonical_names(name)} if isinstance(name, str) else set()


def _pick_model(annotation: Any, node: Any) -> Any:
    """Find, inside an annotation, the model that applies to `node`."""
    import typing

    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is list and args:
        return _pick_model(args[0], None)
    candidates = [
        a
        for a in _flatten(annotation)
        if isinstance(a, type) and issubclass(a, BaseModel)
    ]
    if len(candidates) == 1:
        return candidates[0]
    name = node.get("type") if isinstance(node, dict) else node
    for c in candidates:
        tf = c.model_fields.get("type")
        if tf is not None and tf.default in _names(name):
            return c
    return None


def _flatten(annotation: Any) -> list[Any]:
    import typing

    if typing.get_origin(annotation) in (
        typing.Union,
        getattr(__import__("types"), "UnionType", None),
    ):
        return [x for a in typing.get_args(annotation) for x in _flatten(a)]
    if typing.get_origin(annotation) is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) is list:
        return [x for a in typing.get_args(annotation) for x in _flatten(a)]
    return [annotation]


def _home_of(model: type[BaseModel], data: dict, key: str) -> str | None:
    """Which top-level section declares `key` (for misplaced keys)."""
    for section, info in model.model_fields.items():
        node = data.get(section) if isinstance(data, dict) else None
        if isinstance(node, str):
            node = {"type": node}
        for sub in _flatten(info.annotation):
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                tf = sub.model_fields.get("type")
                if (
                    tf is not None
                    and isinstance(node, dict)
                    and tf.default not in _names(node.get("type"))
                ):
                    continue
                if key in sub.model_fields:
                    return section
    return None


def _dedupe(issues: list[Issue]) -> list[Issue]:
    seen, out = set(), []
    for issue in issues:
        if (issue.path, issue.message) not in seen:
            seen.add((issue.path, issue.message))
            out.append(issue)
    return out

"""Click's usage errors (unknown option, missing argument, bad value) the nncli
way: one `error:` line and the help hint on stderr, a JSON error with `--json`,
and a `--set` hint for an option that is really a spec key (`--epochs 3`)."""

from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from nncli.errors import EXIT_USAGE, one_line

# Click's UsageError, whether typer vendors click or depends on it
UsageError: type[Exception] = typer.BadParameter.__mro__[1]


class UsageGroup(TyperGroup):
    """The nncli command group: usage errors of the group and of every command
    are reported by `report_usage_error` instead of Click's usage block."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        wants = wants_json(args)  # before parsing consumes `args`
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # bare `nncli`: the help
                raise
            raise typer.Exit(report_usage_error(e, args, wants)) from None
        ctx.meta["nncli.argv"] = list(args)
        return ctx

    def invoke(self, ctx: Any) -> Any:
        args = ctx.meta.get("nncli.argv", [])
        try:
            check_option_values(self, args)
            return super().invoke(ctx)
        except UsageError as e:
            # an option's missing value is raised without the command's context
            name = next((a for a in args if not a.startswith("-")), None)
            path = ctx.command_path + (f" {name}" if name in self.commands else "")
            code = report_usage_error(e, args, wants_json(args), path)
            raise typer.Exit(code) from None


def check_option_values(group: Any, args: Sequence[str]) -> None:
    """Refuse an option whose value is another option of the command
    (`--runs-dir --json`): Click would take `--json` as the folder's name,
    create it and print no JSON; more likely the value was left out (an
    empty `$RUNS_DIR` in a script)."""
    name = next((a for a in args if not a.startswith("-")), None)
    command = group.commands.get(name) if name else None
    if command is None:
        return
    options = {"--help", "--"}  # Click takes even `--` as the value
    takes_value = set()
    for param in command.params:
        names = [*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())]
        options.update(n for n in names if n.startswith("-"))
        if param.param_type_name == "option" and not getattr(param, "is_flag", True):
            takes_value.update(getattr(param, "opts", ()))
    rest = list(args[args.index(name) + 1 :])
    for option, value in zip(rest, rest[1:]):
        if option == "--":
            return
        if option in takes_value and value.split("=", 1)[0] in options:
            raise UsageError(
                f"Option {option!r} requires an argument, got the option "
                f"{value!r} (write {option}={value} for a value that looks "
                "like an option)"
            )


def wants_json(args: Sequence[str]) -> bool:
    """`--json` anywhere among the options (not after `--`)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def report_usage_error(
    e: Any, args: Sequence[str], json_out: bool, path: str = "nncli"
) -> int:
    """Print `e` as one error line plus Click's help hint (and, with
    `json_out`, the usual JSON error object on stdout); return the exit code.

    `path` names the command when `e` carries no context.
    """
    ctx = getattr(e, "ctx", None)
    if ctx is not None:
        path = ctx.command_path
    message = one_line(e.format_message())
    hint = spec_key_hint(e, args)
    if hint:
        message += f"; {hint}"
    line = f"{path}: {message}"
    code = getattr(e, "exit_code", EXIT_USAGE)
    print(f"error: {line}", file=sys.stderr)
    print(f"Try '{path} --help' for help.", file=sys.stderr)
    if json_out:
        print(json.dumps({"ok": False, "exit_code": code, "errors": [line]}, indent=2))
    sys.stdout.flush()
    return code


def spec_key_hint(e: Any, args: Sequence[str]) -> str | None:
    """'did you mean --set epochs=3?' when an unknown option names a spec key
    and the command takes --set."""
    option = getattr(e, "option_name", None)
    ctx = getattr(e, "ctx", None)
    if type(e).__name__ != "NoSuchOption" or not option or ctx is None:
        return None
    if not any("--set" in getattr(p, "opts", ()) for p in ctx.command.params):
        return None
    key = option.lstrip("-").replace("-", "_")
    try:
        keys = spec_keys()
    except Exception:  # a hint must never turn a usage error into a crash
        return None
    path = keys.get(key) or (key if key in keys.values() else None)
    if path is None:  # a Keras 1/2 name for a key (--lr, --nb-epoch)
        from nncli.spec.load import OLD_KEYS

        why, new_keys = OLD_KEYS.get(key, ("", ()))
        renamed = [keys[k] for k in new_keys if k in keys] if "name" in why else []
        path = renamed[0] if renamed else None
    if path is None:
        return None
    return f"did you mean --set {path}={option_value(option, args)}?"


def option_value(option: str, args: Sequence[str]) -> str:
    """What followed `option` on the command line (`--epochs 3`, `--epochs=3`)."""
    for k, arg in enumerate(args):
        if arg.startswith(option + "="):
            return arg[len(option) + 1 :] or "VALUE"
        if arg == option and k + 1 < len(args):
            value = args[k + 1]
            if not value.startswith("-") or _is_number(value):  # --epochs -3
                return value
    return "VALUE"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def spec_keys() -> dict[str, str]:
    """Each option name of the spec (`epochs`, `learning_rate`) -> its
    shallowest dotted path (`optimizer.learning_rate`), from the JSON Schema;
    sections (`data`, `model`) and lists of mappings (`layers`) are left out,
    since one --set value cannot sensibly replace them."""
    from nncli.spec.schema import run_spec_model

    schema = run_spec_model().model_json_schema()
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref", "")
        return defs.get(ref.rsplit("/", 1)[-1], node) if ref else node

    def settable(node: dict[str, Any]) -> bool:
        node = resolve(node)
        if node.get("type") == "object":
            return False
        if node.get("type") == "array":
            items = resolve(node.get("items", {}))
            alts = [resolve(a) for a in items.get("anyOf", [items])]
            return any(a.get("type") != "object" for a in alts)
        return True

    found: dict[str, str] = {}
    queue = deque([(schema, "")])  # breadth first: the shallowest path wins
    while queue:
        node, path = queue.popleft()
        node = resolve(node)
        for alt in node.get("anyOf", []) + node.get("oneOf", []):
            queue.append((alt, path))
        for key, sub in node.get("properties", {}).items():
            dotted = f"{path}.{key}" if path else key
            if key != "type" and key not in found and settable(sub):
                found[key] = dotted
            if path.count(".") < 2:
                queue.append((sub, dotted))
    return found

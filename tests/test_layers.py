"""The import structure the README's architecture describes, checked on the source: dependencies run one way."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def imports(path: Path) -> list[tuple[str, str]]:
    """``(module imported, enclosing function or "")`` for every import in ``path``, relative ones made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found: list[tuple[str, str]] = []

    def visit(node: ast.AST, func: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            if isinstance(child, ast.Import):
                found.extend((alias.name, func) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - child.level + 1] if child.level else []
                found.append((".".join([*base, child.module or ""]).strip("."), func))
            visit(child, inner)

    visit(tree, "")
    return found


def modules(root: str) -> list[Path]:
    return sorted((REPO / root).rglob("*.py"))


# The four layers of notifclf and what each may import (README "Architecture"): the types and the prompt contract
# (shared with training) import nothing else; the model store, the engine and the corrections store only the types;
# the sentence encoder and folder prior the types and the model cache; the public Classifier all of these; the
# command line and file tools anything.
TYPES = {"errors", "notification", "folders", "result", "schema", "prompt", "chat_template", "dev_split",
         "folder_codes", "priority_mapping", "files", "preference_hints", "stated_priority", "example_hints", "lru"}
MAY_IMPORT = {"types": {"types"}, "models": {"types", "models"}, "engine": {"types", "engine"},
              "corrections": {"types"}, "embedding": {"types", "models", "embedding"},
              "api": {"types", "models", "engine", "corrections", "embedding", "api"},
              "app": {"types", "models", "engine", "corrections", "embedding", "api", "app"}}


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[1:2] and parts[1] in TYPES:
        return "types"
    if parts[1:2] and parts[1] in ("models", "engine", "corrections", "embedding"):
        return parts[1]
    if parts[1:] in ([], ["__init__"], ["classifier"]):
        return "api"
    return "app"  # cli, batch_file, evaluation, __main__


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    for path in modules("notifclf"):
        me = ".".join(path.relative_to(REPO).with_suffix("").parts)
        for name, _ in imports(path):
            if name.split(".")[0] == "notifclf" and layer(name) not in MAY_IMPORT[layer(me)]:
                wrong.append(f"{me} ({layer(me)}) imports {name} ({layer(name)})")
    assert not wrong


def test_the_runtime_reaches_convert_through_one_function_of_one_module():
    reaching = {(str(p.relative_to(REPO)), func) for p in modules("notifclf") for name, func in imports(p)
                if name == "convert" or name.startswith("convert.")}
    assert {where for where, _ in reaching} == {"notifclf/models/built.py"}
    assert {func for _, func in reaching} == {"_merge_and_quantize"}


def test_one_owner_of_the_llama_cpp_log_callback():
    setters = [str(p.relative_to(REPO)) for root in ("notifclf", "convert") for p in modules(root)
               if "llama_log_set" in p.read_text(encoding="utf-8")]
    assert setters == ["notifclf/engine/llama_log.py"]

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


def test_the_runtime_reaches_convert_through_one_function_of_one_module():
    reaching = {(str(p.relative_to(REPO)), func) for p in modules("notifclf") for name, func in imports(p)
                if name == "convert" or name.startswith("convert.")}
    assert {where for where, _ in reaching} == {"notifclf/built_model.py"}
    assert {func for _, func in reaching} == {"_merge_and_quantize"}


def test_one_owner_of_the_llama_cpp_log_callback():
    setters = [str(p.relative_to(REPO)) for root in ("notifclf", "convert") for p in modules(root)
               if "llama_log_set" in p.read_text(encoding="utf-8")]
    assert setters == ["notifclf/llama_log.py"]

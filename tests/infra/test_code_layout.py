"""The layout the structure issue settled, kept by a test: constructs grouped by capability, stacks that
only compose (small modules, small functions), small construct modules, one Lambda construct."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ml_platform"
CAPABILITIES = {"foundation", "data", "training", "serving", "delivery", "features", "labeling", "monitoring",
                "operations", "workspaces"}
STACK_MODULE_MAX_LINES = 120
MODULE_MAX_LINES = 300
FUNCTION_MAX_LINES = 50
# The one construct that creates Lambda functions (secure defaults: tests/infra/test_every_function_defaults.py).
LAMBDA_CONSTRUCT = PACKAGE / "constructs" / "foundation" / "vpc_function.py"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_constructs_are_grouped_in_one_package_per_capability():
    entries = {p.name for p in (PACKAGE / "constructs").iterdir() if p.name != "__pycache__"}
    assert entries - {"__init__.py"} == CAPABILITIES
    assert all((PACKAGE / "constructs" / c / "__init__.py").exists() for c in CAPABILITIES)


def test_stack_modules_stay_small():
    too_long = {_name(p): n for p in (PACKAGE / "stacks").glob("*.py")
                if (n := len(p.read_text().splitlines())) > STACK_MODULE_MAX_LINES}
    assert not too_long, f"stack modules over {STACK_MODULE_MAX_LINES} lines (move details into constructs): {too_long}"


def test_modules_stay_small():
    too_long = {_name(p): n for p in _modules() if (n := len(p.read_text().splitlines())) > MODULE_MAX_LINES}
    assert not too_long, f"modules over {MODULE_MAX_LINES} lines (split by meaning): {too_long}"


def test_functions_stay_small():
    too_long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > FUNCTION_MAX_LINES:
                    too_long[f"{_name(path)}:{node.lineno} {node.name}"] = length
    assert not too_long, f"functions over {FUNCTION_MAX_LINES} lines: {too_long}"


def test_only_the_lambda_construct_creates_functions():
    creators = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"Function", "SingletonFunction", "DockerImageFunction"}
                    and isinstance(node.func.value, ast.Name) and "lambda" in node.func.value.id):
                creators.append(f"{_name(path)}:{node.lineno}")
    assert creators == [f"{_name(LAMBDA_CONSTRUCT)}:{_lambda_call_line()}"], creators


def _lambda_call_line() -> int:
    for node in ast.walk(ast.parse(LAMBDA_CONSTRUCT.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Function":
            return node.lineno
    raise AssertionError(f"{_name(LAMBDA_CONSTRUCT)} creates no lambda_.Function")

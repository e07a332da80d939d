"""The package's import graph: no cycles (a lazy import inside a function counts too), and importing changes
no setting."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rnn_course"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports, anywhere in its source."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            targets |= {n for n in names if n in modules and n != name}
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):  # a package importing its own submodules (tasks/__init__)
                continue
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_is_read():
    graph = import_graph()
    assert "rnn_course.train" in graph["rnn_course.compare"]
    assert "rnn_course.variants" in graph["rnn_course.layer"]


def test_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_a_cycle_would_be_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.slow  # a fresh interpreter imports torch
def test_import_changes_no_setting():
    code = ("import torch; before=(torch.get_num_threads(), torch.get_default_dtype(), "
            "torch.are_deterministic_algorithms_enabled()); import rnn_course, rnn_course.device, rnn_course.tasks, "
            "rnn_course.train, rnn_course.compare, rnn_course.charlm, rnn_course.claims, rnn_course.nb; "
            "after=(torch.get_num_threads(), torch.get_default_dtype(), torch.are_deterministic_algorithms_enabled()); "
            "assert before == after, (before, after)")
    subprocess.run([sys.executable, "-c", code], check=True)

"""Helpers for tests that read the library's source: which modules a file imports."""

import ast


def imported_modules(tree):
    """The top-level names of every absolute import in a syntax tree (`import a.b` -> "a")."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names

"""One module of environment variables: every ``CHATSNAPSHOT_*`` name is declared there, once."""

from __future__ import annotations

import ast
import re

from chatsnapshot import environment_variables
from tests.test_imports import _modules

_NAME = re.compile(r"^CHATSNAPSHOT_[A-Z0-9_]*$")


def test_no_other_module_spells_a_variable_name() -> None:
    spelled = []
    for name, path in _modules().items():
        if name == "chatsnapshot.environment_variables":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _NAME.match(node.value):
                spelled.append(f"{name}:{node.lineno} {node.value!r}")
    assert spelled == [], "read these through chatsnapshot.environment_variables:\n" + "\n".join(spelled)


def test_every_variable_is_declared_once_and_documented() -> None:
    declared = [n for n in environment_variables.__all__ if n.startswith("CHATSNAPSHOT_")]
    assert len(declared) >= 19
    for name in declared:
        assert getattr(environment_variables, name) == name
        assert f"``{name}``" in (environment_variables.__doc__ or ""), f"{name} is not in the module's table"

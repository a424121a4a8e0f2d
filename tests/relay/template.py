"""``template.yaml`` as CloudFormation would read it for given parameter values: the
Conditions and Rules evaluated, ``Fn::If`` chosen and ``AWS::NoValue`` dropped, so tests
can assert what a stack gets, not how the YAML reads.

Only the intrinsic functions the template uses in Conditions and Rules are evaluated
(Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Join, Fn::EachMemberEquals, Condition, Ref
to a parameter); anything else stays as written, e.g. ``{"Ref": "PiiStreamArn"}``, which
is what a test asserts wiring with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
NO_VALUE = {"Ref": "AWS::NoValue"}


def load() -> dict[str, Any]:
    """The template as plain data (cfn-lint's decoder reads the YAML short forms)."""
    decode = pytest.importorskip("cfnlint.decode", reason="cfn-lint (the dev extra) is missing")
    document, problems = decode.decode(str(TEMPLATE))
    assert not problems, problems
    plain: dict[str, Any] = json.loads(json.dumps(document))
    return plain


class Stack:
    """The template with ``parameters`` given (the others at their defaults)."""

    def __init__(self, document: Mapping[str, Any], **parameters: Any) -> None:
        self.document = document
        declared = document["Parameters"]
        unknown = set(parameters) - set(declared)
        assert not unknown, f"not parameters of the template: {unknown}"
        self.parameters = {
            name: parameters.get(name, spec.get("Default")) for name, spec in declared.items()
        }
        for name, spec in declared.items():
            value = self.parameters[name]
            if spec["Type"] == "CommaDelimitedList" and isinstance(value, str):
                self.parameters[name] = value.split(",")

    def condition(self, name: str) -> bool:
        return bool(self._evaluate(self.document["Conditions"][name]))

    def failed_rules(self) -> list[str]:
        """The AssertDescription of every rule assertion that fails: CloudFormation
        would refuse to create or update the stack with these values."""
        failed = []
        for rule in self.document.get("Rules", {}).values():
            if "RuleCondition" in rule and not self._evaluate(rule["RuleCondition"]):
                continue
            failed += [
                a["AssertDescription"]
                for a in rule["Assertions"]
                if not self._evaluate(a["Assert"])
            ]
        return failed

    def resource(self, name: str) -> dict[str, Any]:
        """A resource's properties, as the stack would get them."""
        properties: dict[str, Any] = self.resolve(self.document["Resources"][name]["Properties"])
        return properties

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            name: self.resource(name)
            for name, resource in self.document["Resources"].items()
            if resource["Type"] == kind
        }

    def statements(self) -> list[dict[str, Any]]:
        """Every statement of the relay role's inline policies."""
        role = self.resource("RelayRole")
        return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]

    def resolve(self, node: Any) -> Any:
        """``node`` with every ``Fn::If`` chosen and every ``AWS::NoValue`` dropped."""
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, then, otherwise = node["Fn::If"]
                return self.resolve(then if self.condition(name) else otherwise)
            resolved = {key: self.resolve(value) for key, value in node.items()}
            return {key: value for key, value in resolved.items() if value != NO_VALUE}
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item != NO_VALUE]
        return node

    def _evaluate(self, node: Any) -> Any:  # noqa: PLR0911  (one branch per function)
        if not isinstance(node, dict):
            return node
        ((function, args),) = node.items()
        if function == "Ref":
            return self.parameters[args]
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Not":
            return not self._evaluate(args[0])
        if function == "Fn::And":
            return all(self._evaluate(arg) for arg in args)
        if function == "Fn::Or":
            return any(self._evaluate(arg) for arg in args)
        if function == "Fn::Equals":
            left, right = (self._evaluate(arg) for arg in args)
            return str(left) == str(right)
        if function == "Fn::Join":
            separator, items = args
            return separator.join(str(item) for item in self._evaluate(items))
        if function == "Fn::EachMemberEquals":
            items, value = args
            return all(item == value for item in self._evaluate(items))
        raise AssertionError(f"the test cannot evaluate {function}")

"""Nested state (model and optimizer state dicts, counters) to and from flat safetensors tensors.

safetensors stores a flat name->tensor mapping plus string metadata; resumable training state is a
tree of dicts, lists, tensors and plain values. `flatten` keeps the tensors in the flat mapping and
the tree's shape in a JSON skeleton, so `unflatten(*flatten(x))` gives `x` back, int keys included.
"""

from __future__ import annotations

import json
from typing import Any

import torch


def flatten(state: Any) -> tuple[dict[str, torch.Tensor], str]:
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, torch.Tensor):
            name = f"t{len(tensors)}"
            tensors[name] = node.detach().to("cpu").contiguous()
            return {"$tensor": name}
        if isinstance(node, dict):
            return {"$dict": [[key, walk(value)] for key, value in node.items()]}
        if isinstance(node, (list, tuple)):
            return {"$list": [walk(value) for value in node]}
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        raise TypeError(f"cannot checkpoint a value of type {type(node).__name__}")

    skeleton = walk(state)
    return tensors, json.dumps(skeleton)


def unflatten(tensors: dict[str, torch.Tensor], skeleton: str) -> Any:
    def build(node: Any) -> Any:
        if isinstance(node, dict):
            if "$tensor" in node:
                return tensors[node["$tensor"]]
            if "$dict" in node:
                return {key: build(value) for key, value in node["$dict"]}
            if "$list" in node:
                return [build(value) for value in node["$list"]]
        return node

    return build(json.loads(skeleton))

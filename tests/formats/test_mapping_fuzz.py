"""Hostile module trees: any field of any module replaced by a value of the wrong kind gives ValueError."""

from __future__ import annotations

import random

import numpy as np
import pytest

import convert
from soundnet.formats.t7_import import model_from_t7

WRONG_VALUES = [
    None,
    "x",
    -1,
    0,
    3.5,
    True,
    float("nan"),
    10**12,
    [],
    {},
    np.zeros((2, 3), np.float32),
    np.zeros(0, np.float32),
    convert.TorchObject("nn.ReLU", {}),
]


def torch_objects(value, found):
    if isinstance(value, convert.TorchObject):
        found.append(value)
        children = value.fields.values() if isinstance(value.fields, dict) else value.fields
        for child in children:
            torch_objects(child, found)
    elif isinstance(value, list):
        for child in value:
            torch_objects(child, found)
    return found


@pytest.mark.slow
def test_mutated_fields_only_raise_value_error(torch7_refs):
    tree = convert.read_t7(torch7_refs / "soundnet8_quarter.t7")
    modules = [m for m in torch_objects(tree, []) if isinstance(m.fields, dict) and m.fields]
    rng = random.Random(2016)
    rejected = 0
    for _ in range(600):
        module = rng.choice(modules)
        key = rng.choice(sorted(module.fields, key=str))
        original, module.fields[key] = module.fields[key], rng.choice(WRONG_VALUES)
        try:
            model_from_t7(tree)
        except ValueError:
            rejected += 1
        finally:
            module.fields[key] = original
    assert rejected > 50  # many mutations hit a field the mapping reads; the rest are ignored extras
    model_from_t7(tree)  # and the restored tree still converts

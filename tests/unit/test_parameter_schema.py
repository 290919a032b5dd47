"""Parameter checks name the parameter at fault."""

from __future__ import annotations

import pytest

from headrace_service.errors import InvalidInput
from headrace_service.parameter_schema import check_defaults, check_parameters, check_schema

SCHEMA = {
    "type": "object",
    "properties": {"day": {"type": "string"}, "rows": {"type": "integer"}},
    "required": ["day"],
}


def test_a_wrong_type_names_the_parameter() -> None:
    with pytest.raises(InvalidInput, match=r"parameters\.rows: 'x' is not of type 'integer'"):
        check_parameters(SCHEMA, {"day": "d", "rows": "x"})


def test_a_missing_required_parameter_is_named() -> None:
    with pytest.raises(InvalidInput, match=r"parameters\.day: missing"):
        check_parameters(SCHEMA, {"rows": 1})


def test_defaults_need_not_be_complete_but_must_fit() -> None:
    check_defaults(SCHEMA, {"rows": 1})
    with pytest.raises(InvalidInput, match=r"body\.parameters\.rows"):
        check_defaults(SCHEMA, {"rows": "many"})


def test_no_schema_accepts_anything_and_a_broken_schema_is_refused() -> None:
    check_parameters({}, {"anything": object()})
    with pytest.raises(InvalidInput, match="parameter_schema"):
        check_schema({"type": "no-such-type"})

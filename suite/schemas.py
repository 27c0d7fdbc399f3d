"""The base of every request body schema of the API: :class:`InputSchema`.

ninja's ``Schema`` is built to *serialize*: it reads whatever it is given attribute by
attribute (Django models, querysets, dicts), calling what it finds. As an input that is a
hole: a JSON body ``"oops"`` validated as ``{"title": "oops".title()}``, a list or ``false``
as an object with every field at its default, and unknown fields were dropped without a
word (a misspelt ``{"target": ...}`` moved a document to the root). An input is a JSON
object whose every field is known, or a 422 in the uniform shape; the OpenAPI document says
so (``additionalProperties: false``) so generated clients and fuzzers know it.

``suite.api`` refuses, when the API is built, any operation whose body is not an
``InputSchema`` (nested objects of a body must be ``InputSchema`` too). Query-string schemas
stay plain ``Schema``: every query model of an operation receives the whole query string
(filters and pagination side by side), so they cannot refuse what they do not know.
"""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import ConfigDict, ValidationInfo, model_validator
from pydantic.functional_validators import ModelWrapValidatorHandler


class InputSchema(Schema):
    """A JSON object with known fields only."""

    # from_attributes=False: only a dict (a JSON object) or an instance validates, pydantic
    # answers anything else with its ``model_type`` error.
    model_config = ConfigDict(extra="forbid", from_attributes=False)

    # Same name as ninja's validator, so it replaces it: no DjangoGetter around the input.
    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(
        cls, values: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo
    ) -> Any:
        return handler(values)

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

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict, ValidationInfo, model_validator
from pydantic.functional_validators import ModelWrapValidatorHandler


class InputSchema(Schema):
    """A JSON object with known fields only."""

    # from_attributes=False: only a dict (a JSON object) or an instance validates, pydantic
    # answers anything else with its ``model_type`` error. strict: JSON types as they are
    # (``"1"`` is no integer, ``1`` no boolean); fields parsed from strings (datetimes,
    # UUIDs) say ``strict=False``. Patterns are Python regular expressions.
    model_config = ConfigDict(
        extra="forbid", from_attributes=False, strict=True, regex_engine="python-re"
    )

    # Same name as ninja's validator, so it replaces it: no DjangoGetter around the input.
    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(
        cls, values: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo
    ) -> Any:
        return handler(values)

    @model_validator(mode="after")
    def _datetimes_in_utc(self) -> Any:
        # RFC 3339 (and pydantic) take offsets up to ±23:59, PostgreSQL only up to ±15:59:
        # a link expiring at "…+23:30" was a 500. The instant is the same in UTC.
        for name, value in self.__dict__.items():
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                try:
                    self.__dict__[name] = value.astimezone(dt.UTC)
                except OverflowError:
                    raise ValueError(f"{name}: out of the range of dates") from None
        return self


# --- field types shared by the inputs of every app ----------------------------------------------
# What a field accepts is declared in the schema, so the OpenAPI document tells clients and
# fuzzers the rules the services enforce (a rule only a service knows is a 422 nobody can
# foresee). Two kinds of declarations:
# - enforced by pydantic (``Field(ge=..., max_length=...)``, ``Literal``): types, enums,
#   bounds no service checks with a message of its own;
# - documented only (:func:`documented`): a rule a service already enforces with its own
#   code and message (a drive title's ``invalid_title``). The pattern then states the
#   service's rule exactly, on the value as sent (before the service strips it), and a test
#   holds the two together.

#: Role slugs, lowest first (``suite.access.roles.Role``).
RoleSlug = Literal["reader", "commenter", "editor", "administrator", "owner"]
#: Roles a link (and an access request) can give.
LinkRoleSlug = Literal["reader", "commenter", "editor"]

# Patterns are read by Python (pydantic, the services, hypothesis) and by ECMA 262 engines
# (JSON Schema validators: schemathesis, generated clients), so they avoid what the two read
# differently: ``\s`` (Python's also holds \x1c-\x1f and \x85, which ``str.strip``
# removes; ECMA's holds \ufeff), ``\U........`` escapes (astral characters are written as
# themselves) and a bare ``$`` (Python's also matches before a final line break).

#: The end of a value.
END = r"$(?!\n)"
#: What ``str.strip`` removes (``str.isspace``), as the contents of a class.
SPACE_CHARACTERS = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
SPACE = f"[{SPACE_CHARACTERS}]"
NOT_SPACE = f"[^{SPACE_CHARACTERS}]"
#: Holds something other than whitespace.
NOT_BLANK = NOT_SPACE


def stripped_pattern(max_length: int, *, core: str = r"[\s\S]", edge: str = NOT_SPACE,
                     space: str = SPACE) -> str:
    """A value that, once stripped of ``space``, holds 1 to ``max_length`` characters of
    ``core`` beginning and ending with ``edge``."""
    return rf"^{space}*{edge}(?:{core}{{0,{max_length - 2}}}{edge})?{space}*{END}"


def documented(**keywords: Any) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` declaring JSON Schema ``keywords`` (``pattern``, ``minLength``,
    ``enum``...) that a service enforces itself: pydantic does not check them. Keywords that
    are callables are called when the document is built (settings, never at import)."""

    def extra(schema: dict[str, Any]) -> None:
        schema.update({key: value() if callable(value) else value for key, value in keywords.items()})

    return extra


def name_field(max_length: int, description: str | None = None) -> Any:
    """A required name that a service strips and checks: 1 to ``max_length`` characters
    besides surrounding whitespace (documented; the service answers with its message)."""
    return Field(..., description=description,
                 json_schema_extra=documented(pattern=stripped_pattern(max_length)))


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: Makes an ``int`` field take integers as JSON Schema counts them: ``3`` or ``3.0``, never
#: ``"3"`` or ``true``. Last in ``Annotated``, after the bounds (else pydantic cannot
#: render them in the document): ``Annotated[int, Field(ge=1), INTEGRAL]``.
INTEGRAL = BeforeValidator(_integral)
JsonInt = Annotated[int, INTEGRAL]
#: Common bounded integers.
NonNegativeInt = Annotated[int, Field(ge=0), INTEGRAL]
PositiveInt = Annotated[int, Field(ge=1), INTEGRAL]


def one_of(values: Callable[[], list[Any]], *, nullable: bool = False) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` listing the values a field takes, computed when the document is
    built; the service checks them."""
    return documented(enum=lambda: [*values(), *([None] if nullable else [])])

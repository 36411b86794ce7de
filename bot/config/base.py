"""What every settings model shares: how a variable is read, and how a bad one is reported.

Each concern (the bot, attachments, storage, Greenflash, start-up, logs) owns one
pydantic-settings model, read from the process environment (``.env`` is loaded into it by
python-dotenv first, so real variables win). Start-up reads them all before it reports,
so an operator fixing a Heroku config sees every bad variable in one line instead of
redeploying once per typo, and every problem is phrased with the variable's own name:
pydantic's field paths and its "Input should be..." wording mean nothing to an operator.
"""

from __future__ import annotations

from typing import Any, TypeVar, get_args

from pydantic import BaseModel, SecretStr, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

M = TypeVar("M", bound="EnvSettings")

_PARSING = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
}


class SettingsError(Exception):
    """Raised with every problem found, so the operator sees them all at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration: " + "; ".join(problems))
        self.problems = problems


def invalid(problem: str) -> PydanticCustomError:
    """A validator's complaint, worded for the operator: the variable's name is put in
    front of it (the problem goes through a placeholder, so braces in it stay as they are)."""
    return PydanticCustomError("setting", "{problem}", {"problem": problem})


def comma_separated(raw: str) -> tuple[str, ...]:
    """``"a, b,,a"`` → ``("a", "b")``: items trimmed, blanks and repeats dropped, order kept."""
    return tuple(dict.fromkeys(item.strip() for item in raw.split(",") if item.strip()))


def one_of(raw: Any, choices: tuple[str, ...]) -> Any:
    """A choice in any case, as the lower-case spelling; anything else named with the choices."""
    if not isinstance(raw, str):
        return raw
    if raw.lower() not in choices:
        raise invalid(f"must be one of {', '.join(choices)} (got {raw!r})")
    return raw.lower()


class EnvSettings(BaseSettings):
    """Variables are read by their exact names (each field's ``validation_alias``); a blank
    or whitespace-only value means unset, as a Heroku config var cleared to "" does."""

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=True,
        # Code builds models by field name (validate_by_name), which would also make
        # pydantic-settings read a variable named like the field; its prefix applies to those
        # look-ups only, and no variable's name can contain "=": only the aliases are read.
        env_prefix="=",
        enable_decoding=False,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {key: value.strip() if isinstance(value, str) else value
                for key, value in data.items()
                if not (isinstance(value, str) and not value.strip())}

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Field name → the environment variable it is read from."""
        return {name: str(info.validation_alias) for name, info in cls.model_fields.items()}


def _number(value: float) -> str:
    """``0.0`` as ``0`` but ``20971520`` as itself (``:g`` alone would write ``2.09715e+07``)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bounds(model: type[BaseModel], field: str) -> tuple[Any, Any]:
    ge = le = None
    for constraint in model.model_fields[field].metadata:
        ge = getattr(constraint, "ge", ge)
        le = getattr(constraint, "le", le)
    return ge, le


def _problem(error: ErrorDetails, model: type[EnvSettings], field: str, name: str) -> str:
    kind, got = error["type"], error["input"]
    if kind == "missing":
        return f"{name} is missing"
    if kind == "setting":
        return f"{name} {error['msg']}"
    annotation = model.model_fields[field].annotation
    if annotation is SecretStr or SecretStr in get_args(annotation):
        return f"{name} is not valid"  # never the value
    if kind in _PARSING:
        return f"{name} {_PARSING[kind]} (got {got!r})"
    if kind in {"greater_than_equal", "less_than_equal"}:
        ge, le = _bounds(model, field)
        if ge is not None and le is not None:
            return f"{name} must be between {_number(ge)} and {_number(le)} (got {got})"
        return f"{name} must be at least {ge} (got {got})" if ge is not None else (
            f"{name} must be at most {le} (got {got})"
        )
    return f"{name} is not valid ({error['msg'].lower()})"


def problems_of(error: ValidationError, model: type[EnvSettings]) -> list[str]:
    """Each of pydantic's errors as one sentence naming the variable. Errors of the model
    as a whole (one variable against another) already name theirs."""
    fields = {alias: name for name, alias in model.variables().items()}
    fields |= {name: name for name in model.variables()}
    variables = model.variables()
    problems = []
    for details in error.errors(include_url=False):
        field = fields.get(str(details["loc"][0])) if details["loc"] else None
        if field is None:
            problems.append(details["msg"])
        else:
            problems.append(_problem(details, model, field, variables[field]))
    return problems


class Problems:
    """Reads models one after another and keeps their problems for one :class:`SettingsError`."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def read(self, model: type[M]) -> M:
        """The model from the environment. If it is invalid, its problems are kept and an
        unvalidated default stands in, so the caller can read the next model; :meth:`check`
        then raises before anyone uses it."""
        try:
            return model()
        except ValidationError as error:
            self.found += problems_of(error, model)
            return model.model_construct()

    def check(self) -> None:
        if self.found:
            raise SettingsError(self.found)


def read_settings(model: type[M]) -> M:
    """One model, or :class:`SettingsError` with all of its problems."""
    problems = Problems()
    settings = problems.read(model)
    problems.check()
    return settings

"""Hand-written SQL for the few reads that every request makes, loading real model instances.

For the small indexed lookups on the hot path, building a query with the ORM costs many times
more than running it. Profiled on a large SQLite network (`.venv/bin/python -m cProfile` over
the feed view, see bench/README.md): finding a token and its user took 0.67 ms through the
ORM and 0.03 ms as SQL; loading a page of 20 posts with their authors 1.15 ms and 0.11 ms.
Those reads (authentication, the feed's ids, a page of posts, the viewer's likes) are
written here as SQL; everything else uses the ORM.

`ModelColumns` keeps them honest: the column list comes from the model's own fields, and
each value goes through the same converters the ORM applies (SQLite's text datetimes made
aware, its integer booleans made bool, a field's `from_db_value`), so an instance loaded
here equals one the ORM loads. tests/test_rawsql.py holds both to that on each database.
"""

from collections.abc import Callable, Sequence
from functools import cache, cached_property
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

ModelT = TypeVar("ModelT", bound=Model)
Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


def quote(name: str) -> str:
    """A table or column name, quoted for the default database."""
    return connections["default"].ops.quote_name(name)


def table(model: type[Model]) -> str:
    """The model's table, quoted: hand-written SQL names it through the model, so a table
    renamed in `Meta.db_table` is renamed in the SQL too."""
    return quote(model._meta.db_table)


def placeholders(count: int) -> str:
    """``%s, %s, …`` for an ``IN (…)`` list of `count` values."""
    return ", ".join(["%s"] * count)


class ModelColumns(Generic[ModelT]):
    """Every concrete column of `model` under a table alias, and the instance a row of them
    makes."""

    def __init__(self, model: type[ModelT], alias: str) -> None:
        self.model = model
        self.alias = alias
        self.fields: list[Field[Any, Any]] = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]

    @property
    def width(self) -> int:
        return len(self.fields)

    @cached_property
    def select_list(self) -> str:
        table = quote(self.alias)
        return ", ".join(f"{table}.{quote(field.column)}" for field in self.fields)

    def load(self, values: Sequence[Any], connection: BaseDatabaseWrapper) -> ModelT:
        """The instance the ORM would load from `values`, a row of `select_list`'s columns
        read through `connection` (the wrapper itself: looking it up per row is measurable)."""
        converted = list(values)
        found = _converters(self.model, connection.vendor, connection.alias)
        for index, column, converters in found:
            for converter in converters:
                converted[index] = converter(converted[index], column, connection)
        return self.model.from_db(connection.alias, self.attnames, converted)


@cache
def _converters(
    model: type[Model], vendor: str, using: str
) -> list[tuple[int, Any, list[Converter]]]:
    """The ORM's value converters for each of `model`'s concrete columns that has any, with
    the column expression they are called with, the database backend's converters first (as
    the ORM's compiler orders them). `vendor` is in the key so that tests switching
    databases never reuse another backend's list."""
    connection = connections[using]
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            found.append((index, column, converters))
    return found

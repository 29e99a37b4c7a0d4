from django.db import models

from plaza.core.ids import next_id


class SnowflakeIdField(models.BigIntegerField):
    """Primary key holding a time-sortable 64-bit id (see plaza.core.ids)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("primary_key", True)
        kwargs.setdefault("default", next_id)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

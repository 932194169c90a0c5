"""The imported pre-adoption baseline: kept apart from the log (it was not decided under the policy);
each import is vouched for by one `baseline_imported` event whose seq names its rows."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Column, Date, Float, Integer, String
from sqlmodel import Field, SQLModel


class BaselineRow(SQLModel, table=True):
    __tablename__ = "baseline_items"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    #: The seq of the `baseline_imported` event; the latest import is the baseline in use.
    import_seq: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    line: int = Field(sa_column=Column(Integer, nullable=False))
    day: date = Field(sa_column=Column(Date, nullable=False))
    kind: str = Field(sa_column=Column(String(200), nullable=False))
    decided_by: str = Field(sa_column=Column(String(100), nullable=False))
    tier: int = Field(sa_column=Column(Integer, nullable=False))
    waited_days: float | None = Field(default=None, sa_column=Column(Float))

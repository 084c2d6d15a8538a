"""Names and times of SysFlow records: parsing record types and operations, converting times.

Times in sysflux are nanoseconds since the Unix epoch. Python's datetime holds microseconds
only, so every function that takes a time also takes an int of nanoseconds, an RFC 3339 string
(with up to nine fractional digits) or a google.protobuf.Timestamp, and loses nothing with them.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Iterable, List, Optional, Union

from google.protobuf import timestamp_pb2

from sysflow.v1 import records_pb2

Record = records_pb2.Record

#: A time: nanoseconds since the Unix epoch (int), a datetime (naive ones are taken as UTC),
#: an RFC 3339 string, or a google.protobuf.Timestamp.
TimeLike = Union[int, _dt.datetime, str, timestamp_pb2.Timestamp]

#: A record type: a name ("process_event", "PROCESS_EVENT", "RECORD_TYPE_PROCESS_EVENT") or its
#: sysflow.v1.RecordType number.
RecordTypeLike = Union[str, int]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_NS = 1_000_000_000

_RECORD_TYPE_PREFIX = "RECORD_TYPE_"
_OP_PREFIX = "OPERATION_FLAG_"


def parse_record_type(value: RecordTypeLike) -> int:
    """The sysflow.v1.RecordType number of a record type name or number.

    >>> parse_record_type("process_event") == parse_record_type("RECORD_TYPE_PROCESS_EVENT")
    True
    """
    if isinstance(value, bool):
        raise TypeError("record type: expected a name or a number, got %r" % (value,))
    if isinstance(value, int):
        if value <= 0 or value not in records_pb2.RecordType.values():
            raise ValueError("unknown record type number %d" % value)
        return value
    if not isinstance(value, str):
        raise TypeError("record type: expected a name or a number, got %r" % (value,))
    name = value.strip().upper()
    if not name.startswith(_RECORD_TYPE_PREFIX):
        name = _RECORD_TYPE_PREFIX + name
    try:
        number = records_pb2.RecordType.Value(name)
    except ValueError:
        number = 0
    if number == 0:
        known = ", ".join(record_type_name(v) for v in records_pb2.RecordType.values() if v)
        raise ValueError("unknown record type %r (known: %s)" % (value, known))
    return number


def parse_record_types(values: Union[RecordTypeLike, Iterable[RecordTypeLike], None]) -> List[int]:
    """The RecordType numbers of a name, a number, or an iterable of them; None gives []."""
    if values is None:
        return []
    if isinstance(values, (str, int)):
        return [parse_record_type(values)]
    return [parse_record_type(v) for v in values]


def record_type_name(value: int) -> str:
    """The lower-case name of a RecordType number, as in "file_flow"."""
    name = records_pb2.RecordType.Name(value)
    return name[len(_RECORD_TYPE_PREFIX) :].lower()


def parse_op_flags(value: Union[int, str, Iterable[Union[str, int]], None]) -> int:
    """OperationFlag bits from a number, a name ("exec", "EXEC", "OPERATION_FLAG_EXEC"), names
    joined with "|", or an iterable of names and numbers, OR-ed together; None gives 0."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise TypeError("op_flags: expected a number or operation names, got %r" % (value,))
    if isinstance(value, int):
        if value < 0 or value >= 1 << 31:
            raise ValueError("op_flags %d is out of range" % value)
        return value
    if isinstance(value, str):
        parts: Iterable[Union[str, int]] = [p for p in value.split("|") if p.strip()]
    else:
        parts = value
    flags = 0
    for p in parts:
        if isinstance(p, int) and not isinstance(p, bool):
            flags |= parse_op_flags(p)
            continue
        if not isinstance(p, str):
            raise TypeError("op_flags: expected operation names, got %r" % (p,))
        name = p.strip().upper()
        if not name.startswith(_OP_PREFIX):
            name = _OP_PREFIX + name
        try:
            bit = records_pb2.OperationFlag.Value(name)
        except ValueError:
            bit = 0
        if bit == 0:
            raise ValueError("unknown operation %r" % p)
        flags |= bit
    return flags


def op_flags_names(flags: int) -> List[str]:
    """The names of the operations set in flags, lowest bit first, as in ["open", "close"]."""
    names = []
    bit = 1
    while bit <= flags:
        if flags & bit:
            try:
                names.append(records_pb2.OperationFlag.Name(bit)[len(_OP_PREFIX) :].lower())
            except ValueError:
                names.append("0x%x" % bit)
        bit <<= 1
    return names


# ---- records -------------------------------------------------------------------------------


def record_kind(record: Record) -> str:
    """The member of a record's oneof: "process_event", "process", "file_flow"...; "" if unset."""
    return record.WhichOneof("rec") or ""


def record_type(record: Record) -> int:
    """The sysflow.v1.RecordType number of a record, 0 when it holds nothing."""
    kind = record_kind(record)
    if not kind:
        return 0
    return records_pb2.RecordType.Value(_RECORD_TYPE_PREFIX + kind.upper())


def record_time_ns(record: Record) -> int:
    """A record's time in nanoseconds: its ts (a flow's start); 0 for headers."""
    kind = record_kind(record)
    if not kind:
        return 0
    return int(getattr(getattr(record, kind), "ts", 0))


def proc_oid(record: Record) -> Optional[records_pb2.OID]:
    """The object id of the process a record is about: the process of an event or flow, or the
    process entity itself; None for other records."""
    kind = record_kind(record)
    if kind == "process":
        return record.process.oid
    rec = getattr(record, kind) if kind else None
    if rec is not None and "proc_oid" in type(rec).DESCRIPTOR.fields_by_name:
        return rec.proc_oid
    return None


def position_of(record: Record) -> records_pb2.Position:
    """The position of a record in its agent's sequence."""
    return records_pb2.Position(agent_id=record.agent_id, epoch=record.epoch, seq=record.seq)


# ---- times ---------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_rfc3339(text: str) -> int:
    """Nanoseconds since the Unix epoch of an RFC 3339 time with up to nine fractional digits.

    >>> parse_rfc3339("1970-01-01T00:00:01.000000002Z")
    1000000002
    """
    m = _RFC3339.match(text.strip())
    if not m:
        raise ValueError("not an RFC 3339 time: %r" % text)
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or "").ljust(9, "0")
    zone = m.group(8)
    if zone in ("Z", "z"):
        offset = _dt.timedelta(0)
    else:
        sign = -1 if zone[0] == "-" else 1
        offset = sign * _dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    try:
        whole = _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.timezone(offset))
    except ValueError as e:
        raise ValueError("not an RFC 3339 time: %r (%s)" % (text, e)) from None
    return _datetime_ns(whole) + int(frac)


def _datetime_ns(value: _dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    delta = value - _EPOCH
    ns = (delta.days * 86400 + delta.seconds) * _NS + delta.microseconds * 1000
    # pandas.Timestamp is a datetime that also holds nanoseconds.
    extra = getattr(value, "nanosecond", 0)
    return ns + int(extra or 0)


def to_ns(value: TimeLike) -> int:
    """Nanoseconds since the Unix epoch of a time (see TimeLike).

    Floats are refused: seconds and nanoseconds are too easily mistaken for one another.
    """
    if isinstance(value, bool):
        raise TypeError("time: expected nanoseconds (int), datetime, RFC 3339 string or Timestamp, got bool")
    if isinstance(value, int):
        return value
    if isinstance(value, _dt.datetime):
        return _datetime_ns(value)
    if isinstance(value, str):
        return parse_rfc3339(value)
    if isinstance(value, timestamp_pb2.Timestamp):
        return value.seconds * _NS + value.nanos
    if isinstance(value, float):
        raise TypeError(
            "time: got float %r; pass nanoseconds since the epoch as an int, or a datetime" % (value,)
        )
    raise TypeError(
        "time: expected nanoseconds (int), datetime, RFC 3339 string or Timestamp, got %s" % type(value).__name__
    )


def to_timestamp(value: TimeLike) -> timestamp_pb2.Timestamp:
    """The google.protobuf.Timestamp of a time (see TimeLike)."""
    seconds, nanos = divmod(to_ns(value), _NS)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def timestamp_ns(ts: timestamp_pb2.Timestamp) -> int:
    """Nanoseconds since the Unix epoch of a google.protobuf.Timestamp."""
    return ts.seconds * _NS + ts.nanos


def ns_to_datetime(ns: int) -> _dt.datetime:
    """An aware UTC datetime of nanoseconds since the Unix epoch, truncated to microseconds."""
    return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


def format_rfc3339(ns: int) -> str:
    """An RFC 3339 UTC time with nine fractional digits, as in 2024-05-01T10:00:00.000000001Z."""
    seconds, nanos = divmod(ns, _NS)
    whole = _EPOCH + _dt.timedelta(seconds=seconds)
    return whole.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % nanos


def duration_seconds(value: Union[int, float, _dt.timedelta]) -> float:
    """Seconds of a duration given as seconds or a timedelta."""
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("duration: expected seconds or a timedelta, got %r" % (value,))
    return float(value)


__all__ = [
    "Record",
    "RecordTypeLike",
    "TimeLike",
    "duration_seconds",
    "format_rfc3339",
    "ns_to_datetime",
    "op_flags_names",
    "parse_op_flags",
    "parse_record_type",
    "parse_record_types",
    "parse_rfc3339",
    "position_of",
    "proc_oid",
    "record_kind",
    "record_time_ns",
    "record_type",
    "record_type_name",
    "timestamp_ns",
    "to_ns",
    "to_timestamp",
]

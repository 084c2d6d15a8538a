"""The typed values the client returns, besides SysFlow records (sysflow.v1.Record messages)."""

from __future__ import annotations

import datetime as _dt
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from sysflow.v1 import records_pb2
from sysflux.hub.v1 import hub_service_pb2
from sysflux.policy.v1 import policy_service_pb2

from .errors import Problem
from .records import ns_to_datetime, record_kind, record_time_ns, timestamp_ns

Record = records_pb2.Record


@dataclass(frozen=True)
class Position:
    """A record's place in its agent's sequence: agent, delivery epoch, sequence number."""

    agent_id: str
    epoch: int
    seq: int

    @classmethod
    def from_proto(cls, p: records_pb2.Position) -> "Position":
        return cls(agent_id=p.agent_id, epoch=p.epoch, seq=p.seq)

    @classmethod
    def of(cls, record: Record) -> "Position":
        """The position of a record."""
        return cls(agent_id=record.agent_id, epoch=record.epoch, seq=record.seq)

    def to_proto(self) -> records_pb2.Position:
        return records_pb2.Position(agent_id=self.agent_id, epoch=self.epoch, seq=self.seq)


#: A position as the client accepts it: a Position, a sysflow.v1.Position, or (agent_id, epoch, seq).
PositionLike = Union[Position, records_pb2.Position, Tuple[str, int, int]]


def position_proto(p: PositionLike) -> records_pb2.Position:
    if isinstance(p, Position):
        return p.to_proto()
    if isinstance(p, records_pb2.Position):
        return p
    agent_id, epoch, seq = p
    return records_pb2.Position(agent_id=agent_id, epoch=epoch, seq=seq)


@dataclass(frozen=True)
class Alert:
    """An alert raised by one of the hub's rules, with the fields of Falco's JSON alert format."""

    #: The rule's name.
    rule: str
    #: The rule's priority as Falco names it: Emergency, Alert, Critical, Error, Warning...
    priority: str
    #: The rendered output, prefixed with the time and priority as Falco prints it.
    output: str
    #: The time of the record that raised it, in nanoseconds since the Unix epoch.
    time_ns: int
    #: The values of the fields the output names.
    output_fields: Dict[str, str]
    #: The rule's event source (syscall).
    source: str
    #: The rule's tags.
    tags: Tuple[str, ...]
    #: The node the record comes from.
    hostname: str
    #: Where the record that raised it is in its agent's sequence.
    position: Position

    @property
    def time(self) -> _dt.datetime:
        """The time of the record that raised it, as a UTC datetime (to the microsecond)."""
        return ns_to_datetime(self.time_ns)

    @property
    def agent_id(self) -> str:
        """The agent of the record that raised it."""
        return self.position.agent_id

    @classmethod
    def from_proto(cls, a: hub_service_pb2.Alert) -> "Alert":
        return cls(
            rule=a.rule,
            priority=a.priority,
            output=a.output,
            time_ns=timestamp_ns(a.time),
            output_fields=dict(a.output_fields),
            source=a.source,
            tags=tuple(a.tags),
            hostname=a.hostname,
            position=Position.from_proto(a.position),
        )

    def to_falco_json(self) -> Dict[str, object]:
        """The alert as Falco's JSON output has it (time in RFC 3339 with nanoseconds)."""
        from .records import format_rfc3339

        return {
            "hostname": self.hostname,
            "output": self.output,
            "output_fields": dict(self.output_fields),
            "priority": self.priority,
            "rule": self.rule,
            "source": self.source,
            "tags": list(self.tags),
            "time": format_rfc3339(self.time_ns),
        }


@dataclass(frozen=True)
class Heartbeat:
    """Sent by the hub when a subscription stayed idle for its heartbeat interval."""

    #: When the hub sent it, in nanoseconds since the Unix epoch.
    send_time_ns: int

    @property
    def send_time(self) -> _dt.datetime:
        return ns_to_datetime(self.send_time_ns)


@dataclass(frozen=True)
class RecordsLost:
    """The hub could not deliver records to the subscriber (it read too slowly)."""

    #: The number of records lost since the previous notice.
    count: int
    #: Why, for people.
    reason: str


#: An item of a subscription.
SubscribeItem = Union[Record, Alert, Heartbeat, RecordsLost]


class _Versions:
    """Versions of one entity, by the time they came into force."""

    def __init__(self) -> None:
        self.ts: List[int] = []
        self.items: List[Record] = []

    def add(self, ts: int, rec: Record) -> None:
        i = bisect_right(self.ts, ts)
        self.ts.insert(i, ts)
        self.items.insert(i, rec)

    def at(self, ts: int) -> Record:
        """The version in force at ts: the last one created at or before ts, else the first."""
        i = bisect_right(self.ts, ts)
        return self.items[i - 1] if i else self.items[0]


def _oid_key(oid: records_pb2.OID) -> Tuple[int, int]:
    return (oid.create_ts, oid.hpid)


@dataclass
class QueryPage:
    """One page of a query: its records, and the entities they reference to resolve them."""

    #: The records, in time order.
    records: List[Record]
    #: The processes, files, containers and pods the records reference, in the versions in force
    #: at the records' times.
    entities: List[Record]
    #: The token of the next page, "" on the last page.
    next_page_token: str
    #: The number of stored records the hub read to fill the page.
    scanned_records: int
    _procs: Dict[Tuple[str, Tuple[int, int]], _Versions] = field(default_factory=dict, repr=False)
    _files: Dict[Tuple[str, bytes], _Versions] = field(default_factory=dict, repr=False)
    _containers: Dict[Tuple[str, str], Record] = field(default_factory=dict, repr=False)
    _pods: Dict[Tuple[str, str], Record] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for e in self.entities:
            kind = record_kind(e)
            if kind == "process":
                key = (e.node_id, _oid_key(e.process.oid))
                self._procs.setdefault(key, _Versions()).add(e.process.ts, e)
            elif kind == "file":
                fkey = (e.node_id, bytes(e.file.oid))
                self._files.setdefault(fkey, _Versions()).add(e.file.ts, e)
            elif kind == "container":
                self._containers[(e.node_id, e.container.id)] = e
            elif kind == "pod":
                self._pods[(e.node_id, e.pod.id)] = e

    @classmethod
    def from_proto(cls, resp: hub_service_pb2.QueryResponse) -> "QueryPage":
        return cls(
            records=list(resp.records),
            entities=list(resp.entities),
            next_page_token=resp.next_page_token,
            scanned_records=resp.scanned_records,
        )

    def process_of(self, record: Record) -> Optional[records_pb2.Process]:
        """The process an event or flow of the page is about, in the version in force at the
        record's time; a process record itself; None when the page does not hold it."""
        kind = record_kind(record)
        if kind == "process":
            return record.process
        rec = getattr(record, kind) if kind else None
        if rec is None or "proc_oid" not in type(rec).DESCRIPTOR.fields_by_name:
            return None
        versions = self._procs.get((record.node_id, _oid_key(rec.proc_oid)))
        if versions is None:
            return None
        return versions.at(record_time_ns(record)).process

    def parent_of(self, process: records_pb2.Process, node_id: str, at_ns: int = 0) -> Optional[records_pb2.Process]:
        """The parent of a process when the page holds it."""
        if not process.HasField("poid"):
            return None
        versions = self._procs.get((node_id, _oid_key(process.poid)))
        return versions.at(at_ns or process.ts).process if versions else None

    def file_of(self, record: Record) -> Optional[records_pb2.File]:
        """The file a file flow or file event of the page is about."""
        kind = record_kind(record)
        if kind == "file":
            return record.file
        if kind not in ("file_flow", "file_event"):
            return None
        oid = bytes(getattr(record, kind).file_oid)
        versions = self._files.get((record.node_id, oid))
        return versions.at(record_time_ns(record)).file if versions else None

    def container_of(self, record: Record) -> Optional[records_pb2.Container]:
        """The container of the process a record is about, when it runs in one."""
        proc = self.process_of(record)
        if proc is None or not proc.HasField("container_id"):
            return None
        c = self._containers.get((record.node_id, proc.container_id))
        return c.container if c is not None else None

    def pod_of(self, record: Record) -> Optional[records_pb2.Pod]:
        """The pod of the container of the process a record is about, when it has one."""
        c = self.container_of(record)
        if c is None or not c.HasField("pod_id"):
            return None
        p = self._pods.get((record.node_id, c.pod_id))
        return p.pod if p is not None else None


_RULE_STATUS_PREFIX = "RULE_STATUS_"
_PRIORITY_NAMES = {
    policy_service_pb2.PRIORITY_EMERGENCY: "Emergency",
    policy_service_pb2.PRIORITY_ALERT: "Alert",
    policy_service_pb2.PRIORITY_CRITICAL: "Critical",
    policy_service_pb2.PRIORITY_ERROR: "Error",
    policy_service_pb2.PRIORITY_WARNING: "Warning",
    policy_service_pb2.PRIORITY_NOTICE: "Notice",
    policy_service_pb2.PRIORITY_INFORMATIONAL: "Informational",
    policy_service_pb2.PRIORITY_DEBUG: "Debug",
}


@dataclass(frozen=True)
class RuleInfo:
    """One rule of the hub's rules and what it became."""

    name: str
    #: "compiled" (it runs), "not_applicable" (it can match no SysFlow record) or "disabled".
    status: str
    #: Why a rule is not applicable.
    reason: str
    #: The priority as Falco names it ("Warning"), "" when unset.
    priority: str
    source: str
    tags: Tuple[str, ...]
    #: The file that defines it (last, when several do) and the line of its definition.
    file: str
    line: int
    desc: str
    condition: str
    output: str
    #: The condition translated to CEL, when it compiled.
    cel: str

    @classmethod
    def from_proto(cls, r: policy_service_pb2.Rule) -> "RuleInfo":
        status = policy_service_pb2.RuleStatus.Name(r.status)[len(_RULE_STATUS_PREFIX) :].lower()
        return cls(
            name=r.name,
            status="" if status == "unspecified" else status,
            reason=r.reason,
            priority=_PRIORITY_NAMES.get(r.priority, ""),
            source=r.source,
            tags=tuple(r.tags),
            file=r.file,
            line=r.line,
            desc=r.desc,
            condition=r.condition,
            output=r.output,
            cel=r.cel,
        )


def _rules(report: policy_service_pb2.RulesReport) -> List[RuleInfo]:
    return [RuleInfo.from_proto(r) for r in report.rules]


@dataclass(frozen=True)
class RulesFileInfo:
    """A rules file in force on the hub."""

    name: str
    size_bytes: int
    sha256: str
    #: The file's YAML, when asked for.
    content: str


@dataclass(frozen=True)
class RulesState:
    """The rules in force on the hub (ListRules)."""

    #: 1 for the rules the hub started with, one more for each change since.
    version: int
    files: List[RulesFileInfo]
    rules: List[RuleInfo]
    #: What Falco would load but warn about, as "file:line:column: message".
    warnings: List[str]

    def rule(self, name: str) -> Optional[RuleInfo]:
        """The rule of that name, None when there is none."""
        for r in self.rules:
            if r.name == name:
                return r
        return None

    @property
    def file_names(self) -> List[str]:
        return [f.name for f in self.files]

    @classmethod
    def from_proto(cls, resp: policy_service_pb2.ListRulesResponse) -> "RulesState":
        return cls(
            version=resp.version,
            files=[RulesFileInfo(f.name, f.size_bytes, f.sha256, f.content) for f in resp.files],
            rules=_rules(resp.report),
            warnings=list(resp.report.warnings),
        )


@dataclass(frozen=True)
class RulesChange:
    """The outcome of a change of the rules (PutRules, DeleteRules)."""

    #: The version of the rules now in force.
    version: int
    rules: List[RuleInfo]
    warnings: List[str]

    @classmethod
    def from_proto(
        cls, resp: Union[policy_service_pb2.PutRulesResponse, policy_service_pb2.DeleteRulesResponse]
    ) -> "RulesChange":
        return cls(version=resp.version, rules=_rules(resp.report), warnings=list(resp.report.warnings))


@dataclass(frozen=True)
class Validation:
    """What rules files would become (ValidateRules): problems, or the rules."""

    problems: List[Problem]
    rules: List[RuleInfo]
    warnings: List[str]

    @property
    def ok(self) -> bool:
        """Whether the files compile."""
        return not self.problems

    @classmethod
    def from_proto(cls, resp: policy_service_pb2.ValidateRulesResponse) -> "Validation":
        return cls(
            problems=[Problem.from_proto(e) for e in resp.errors],
            rules=_rules(resp.report),
            warnings=list(resp.report.warnings),
        )


@dataclass(frozen=True)
class Agent:
    """What the hub knows of one agent it reads from."""

    address: str
    agent_id: str
    node_id: str
    connected: bool
    #: The last record received (stored) from the agent, None before any.
    last_position: Optional[Position]
    received_records: int
    duplicate_records: int
    last_error: str
    #: When the stream was last established (ns since the epoch), 0 when never.
    connect_time_ns: int
    edge_policy_version: int
    edge_dropped_records: int
    edge_policy_error: str

    @classmethod
    def from_proto(cls, a: hub_service_pb2.AgentStatus) -> "Agent":
        return cls(
            address=a.address,
            agent_id=a.agent_id,
            node_id=a.node_id,
            connected=a.connected,
            last_position=Position.from_proto(a.last_position) if a.HasField("last_position") else None,
            received_records=a.received_records,
            duplicate_records=a.duplicate_records,
            last_error=a.last_error,
            connect_time_ns=timestamp_ns(a.connect_time) if a.HasField("connect_time") else 0,
            edge_policy_version=a.edge_policy_version,
            edge_dropped_records=a.edge_dropped_records,
            edge_policy_error=a.edge_policy_error,
        )


def rules_files(files: Union[Iterable[Tuple[str, str]], Dict[str, str]]) -> List[policy_service_pb2.RulesFile]:
    """RulesFile messages from (name, content) pairs or a name -> content mapping."""
    items: Iterable[Tuple[str, str]] = files.items() if isinstance(files, dict) else files
    return [policy_service_pb2.RulesFile(name=n, content=c) for n, c in items]


__all__: Sequence[str] = [
    "Agent",
    "Alert",
    "Heartbeat",
    "Position",
    "PositionLike",
    "QueryPage",
    "RecordsLost",
    "RuleInfo",
    "RulesChange",
    "RulesFileInfo",
    "RulesState",
    "SubscribeItem",
    "Validation",
]

"""sysflux: a Python client of the sysflux hub's API.

    import sysflux

    with sysflux.Client("127.0.0.1:7700", token="...") as hub:
        with hub.subscribe("proc.name = sh", record_types=["process_event"], from_oldest=True) as sub:
            for item in sub:
                print(item)

Records are sysflow.v1.Record protobuf messages (sysflow.v1.records_pb2); alerts, heartbeats,
query pages, rules and agents are the dataclasses of sysflux.models; errors are the
SysfluxError hierarchy of sysflux.errors. The generated protobuf and gRPC modules are
sysflow.v1.records_pb2, sysflux.hub.v1.hub_service_pb2(_grpc) and
sysflux.policy.v1.policy_service_pb2(_grpc).
"""

from .client import Client, Subscription, __version__
from .errors import (
    DeadlineExceeded,
    FilterError,
    HubUnreachable,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Problem,
    RulesError,
    SysfluxError,
    Unauthenticated,
)
from .models import (
    Agent,
    Alert,
    Heartbeat,
    Position,
    QueryPage,
    RecordsLost,
    RuleInfo,
    RulesChange,
    RulesFileInfo,
    RulesState,
    SubscribeItem,
    Validation,
)
from .records import (
    Record,
    format_rfc3339,
    ns_to_datetime,
    op_flags_names,
    parse_op_flags,
    parse_record_type,
    parse_record_types,
    parse_rfc3339,
    record_kind,
    record_time_ns,
    record_type,
    record_type_name,
    to_ns,
    to_timestamp,
)

__all__ = [
    "Agent",
    "Alert",
    "Client",
    "DeadlineExceeded",
    "FilterError",
    "Heartbeat",
    "HubUnreachable",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "Position",
    "Problem",
    "QueryPage",
    "Record",
    "RecordsLost",
    "RuleInfo",
    "RulesChange",
    "RulesError",
    "RulesFileInfo",
    "RulesState",
    "SubscribeItem",
    "Subscription",
    "SysfluxError",
    "Unauthenticated",
    "Validation",
    "__version__",
    "format_rfc3339",
    "ns_to_datetime",
    "op_flags_names",
    "parse_op_flags",
    "parse_record_type",
    "parse_record_types",
    "parse_rfc3339",
    "record_kind",
    "record_time_ns",
    "record_type",
    "record_type_name",
    "to_ns",
    "to_timestamp",
]

"""Decoding of the google.rpc.Status that gRPC carries in the grpc-status-details-bin trailer.

The googleapis common protos are not a dependency of the client: the two messages needed,
google.rpc.Status and google.protobuf.Any, are built here in a private descriptor pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

STATUS_DETAILS_KEY = "grpc-status-details-bin"
TYPE_URL_PREFIX = "type.googleapis.com/"


def _build_status_class():
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(any_pb2.DESCRIPTOR.serialized_pb)
    fdp = descriptor_pb2.FileDescriptorProto(
        name="google/rpc/status.proto",
        package="google.rpc",
        syntax="proto3",
        dependency=["google/protobuf/any.proto"],
    )
    msg = fdp.message_type.add(name="Status")
    F = descriptor_pb2.FieldDescriptorProto
    msg.field.add(name="code", number=1, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL, json_name="code")
    msg.field.add(name="message", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, json_name="message")
    msg.field.add(
        name="details",
        number=3,
        type=F.TYPE_MESSAGE,
        type_name=".google.protobuf.Any",
        label=F.LABEL_REPEATED,
        json_name="details",
    )
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName("google.rpc.Status")
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


#: The google.rpc.Status message class: code (int32), message (string), details (repeated Any).
Status = _build_status_class()


@dataclass(frozen=True)
class StatusDetail:
    """One detail of a status: the full name of its message type and its serialized bytes."""

    type_name: str
    value: bytes


@dataclass(frozen=True)
class RpcStatus:
    """A decoded google.rpc.Status."""

    code: int
    message: str
    details: Tuple[StatusDetail, ...]

    def find(self, type_name: str) -> Optional[bytes]:
        """The serialized bytes of the first detail of the given full message name, if any."""
        for d in self.details:
            if d.type_name == type_name:
                return d.value
        return None


def decode_status(data: bytes) -> RpcStatus:
    """Decodes a serialized google.rpc.Status; raises google.protobuf's DecodeError when invalid."""
    st = Status.FromString(data)
    details = []
    for d in st.details:
        url = d.type_url
        name = url[url.rfind("/") + 1 :]
        details.append(StatusDetail(type_name=name, value=bytes(d.value)))
    return RpcStatus(code=st.code, message=st.message, details=tuple(details))


def encode_status(code: int, message: str, details: Sequence[Tuple[str, bytes]] = ()) -> bytes:
    """Serializes a google.rpc.Status with details given as (full message name, bytes) pairs."""
    st = Status(code=code, message=message)
    for name, value in details:
        d = st.details.add()
        d.type_url = TYPE_URL_PREFIX + name
        d.value = value
    return st.SerializeToString()


def status_from_metadata(metadata: Optional[Iterable[Tuple[str, Any]]]) -> Optional[RpcStatus]:
    """The status in a call's trailing metadata (key, value) pairs, None when absent or invalid."""
    if not metadata:
        return None
    for key, value in metadata:
        if key == STATUS_DETAILS_KEY and isinstance(value, (bytes, bytearray)):
            try:
                return decode_status(bytes(value))
            except Exception:  # a malformed trailer is not worth more than its absence
                return None
    return None


__all__: List[str] = [
    "RpcStatus",
    "STATUS_DETAILS_KEY",
    "Status",
    "StatusDetail",
    "decode_status",
    "encode_status",
    "status_from_metadata",
]

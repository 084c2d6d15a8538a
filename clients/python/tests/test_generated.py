"""Offline tests of the generated modules and of the generator's descriptor handling."""

from __future__ import annotations

import unittest

from tests import require_client

require_client()

from google.protobuf import descriptor_pb2  # noqa: E402

import generate  # noqa: E402
from sysflow.v1 import records_pb2
from sysflux.hub.v1 import hub_service_pb2, hub_service_pb2_grpc
from sysflux.policy.v1 import policy_service_pb2, policy_service_pb2_grpc


def file_proto(module: object) -> descriptor_pb2.FileDescriptorProto:
    fdp = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(fdp)  # type: ignore[attr-defined]
    return fdp


class GeneratedTest(unittest.TestCase):
    def test_optional_presence(self) -> None:
        p = records_pb2.Process()
        for name in ("container_id", "cap_effective", "loginuid"):
            self.assertFalse(p.HasField(name), name)
        p.loginuid = 0
        self.assertTrue(p.HasField("loginuid"))
        c = records_pb2.Container.FromString(records_pb2.Container(pod_id="").SerializeToString())
        self.assertTrue(c.HasField("pod_id"))

    def test_descriptors(self) -> None:
        fdp = file_proto(records_pb2)
        process = next(m for m in fdp.message_type if m.name == "Process")
        self.assertIn("container_id", [f.name for f in process.field if f.proto3_optional])
        self.assertEqual(fdp.source_code_info.ByteSize(), 0)  # comments are left out
        # Nested messages and services describe themselves (the offsets of the pure-Python runtime).
        d = descriptor_pb2.DescriptorProto()
        hub_service_pb2.Alert.OutputFieldsEntry.DESCRIPTOR.CopyToProto(d)
        self.assertTrue(d.options.map_entry)
        s = descriptor_pb2.ServiceDescriptorProto()
        policy_service_pb2.DESCRIPTOR.services_by_name["PolicyService"].CopyToProto(s)
        self.assertEqual([m.name for m in s.method], ["ValidateRules", "PutRules", "ListRules", "DeleteRules"])

    def test_stubs(self) -> None:
        self.assertTrue(hasattr(hub_service_pb2_grpc, "HubServiceStub"))
        self.assertTrue(hasattr(policy_service_pb2_grpc, "PolicyServiceStub"))
        self.assertEqual(hub_service_pb2.SUBSCRIBE_CONTENT_ALERTS, 2)


class GeneratorTest(unittest.TestCase):
    def descriptor_set(self) -> bytes:
        """A FileDescriptorSet of records.proto as buf writes one: with comments, and with
        buf_extension (field 8042) {is_import: false} added to the file."""
        f = file_proto(records_pb2)
        f.source_code_info.location.add().leading_comments = "a comment"
        body = f.SerializeToString() + b"\xd2\xf6\x03\x02\x08\x00"
        return b"\x0a" + _varint(len(body)) + body

    def test_split(self) -> None:
        files = generate.split_descriptor_set(self.descriptor_set())
        self.assertEqual(list(files), ["sysflow/v1/records.proto"])
        raw = files["sysflow/v1/records.proto"]
        want = file_proto(records_pb2)
        got = descriptor_pb2.FileDescriptorProto.FromString(raw)
        self.assertEqual(got, want)
        self.assertNotIn(b"a comment", raw)
        self.assertNotIn(b"\xd2\xf6\x03", raw)

    def test_spans(self) -> None:
        raw = generate.split_descriptor_set(self.descriptor_set())["sysflow/v1/records.proto"]
        fdp = descriptor_pb2.FileDescriptorProto.FromString(raw)
        spans = {name: (s, e) for name, s, e in generate.file_spans(raw, fdp)}
        s, e = spans["_PROCESS"]
        self.assertEqual(descriptor_pb2.DescriptorProto.FromString(raw[s:e]).name, "Process")
        s, e = spans["_RECORDTYPE"]
        self.assertEqual(descriptor_pb2.EnumDescriptorProto.FromString(raw[s:e]).name, "RecordType")
        s, e = spans["_POD_LABELSENTRY"]
        self.assertEqual(descriptor_pb2.DescriptorProto.FromString(raw[s:e]).name, "LabelsEntry")

    def test_names(self) -> None:
        self.assertEqual(generate.module_name("sysflow/v1/records.proto"), "sysflow.v1.records_pb2")
        self.assertEqual(
            generate.module_alias("sysflux/hub/v1/hub_service.proto"), "sysflux_dot_hub_dot_v1_dot_hub__service__pb2"
        )

    def test_module_text_is_stable(self) -> None:
        raw = generate.split_descriptor_set(self.descriptor_set())["sysflow/v1/records.proto"]
        a = generate.message_module("sysflow/v1/records.proto", raw)
        self.assertEqual(a, generate.message_module("sysflow/v1/records.proto", raw))
        a.encode("ascii")  # the descriptor is escaped
        compile(a, "records_pb2.py", "exec")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


if __name__ == "__main__":
    unittest.main()

"""Offline tests of the sysflux client: no hub needed."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import unittest

from tests import require_client

require_client()

import grpc  # noqa: E402

import sysflux  # noqa: E402
from sysflux import _status, errors
from sysflux.client import Client, _parse_address
from sysflow.v1 import records_pb2
from sysflux.hub.v1 import hub_service_pb2
from sysflux.policy.v1 import policy_service_pb2


class RecordTypeTest(unittest.TestCase):
    def test_names(self) -> None:
        want = records_pb2.RECORD_TYPE_PROCESS_EVENT
        for name in ("process_event", "PROCESS_EVENT", "RECORD_TYPE_PROCESS_EVENT", " Process_Event "):
            self.assertEqual(sysflux.parse_record_type(name), want, name)
        self.assertEqual(sysflux.parse_record_type(6), records_pb2.RECORD_TYPE_NETWORK_FLOW)
        self.assertEqual(sysflux.parse_record_types("file_flow"), [records_pb2.RECORD_TYPE_FILE_FLOW])
        self.assertEqual(sysflux.parse_record_types(None), [])
        self.assertEqual(
            sysflux.parse_record_types(["process", "RECORD_TYPE_K8S_EVENT"]),
            [records_pb2.RECORD_TYPE_PROCESS, records_pb2.RECORD_TYPE_K8S_EVENT],
        )
        self.assertEqual(sysflux.record_type_name(records_pb2.RECORD_TYPE_FILE_EVENT), "file_event")

    def test_bad_names(self) -> None:
        for bad in ("proc_event", "", "UNSPECIFIED", "RECORD_TYPE_UNSPECIFIED", 0, 99):
            with self.assertRaises(ValueError, msg=repr(bad)):
                sysflux.parse_record_type(bad)  # type: ignore[arg-type]
        with self.assertRaises(ValueError) as cm:
            sysflux.parse_record_type("proc_event")
        self.assertIn("process_event", str(cm.exception))  # lists the known names
        with self.assertRaises(TypeError):
            sysflux.parse_record_type(True)

    def test_op_flags(self) -> None:
        self.assertEqual(sysflux.parse_op_flags("exec"), 2)
        self.assertEqual(sysflux.parse_op_flags("OPEN|close"), 128 | 1024)
        self.assertEqual(sysflux.parse_op_flags(["OPERATION_FLAG_EXEC", "clone", 4]), 7)
        self.assertEqual(sysflux.parse_op_flags(None), 0)
        self.assertEqual(sysflux.parse_op_flags(0), 0)
        with self.assertRaises(ValueError):
            sysflux.parse_op_flags("exce")
        self.assertEqual(sysflux.op_flags_names(128 | 1024 | 2), ["exec", "open", "close"])


class RecordTest(unittest.TestCase):
    def test_kind_type_time(self) -> None:
        r = records_pb2.Record(file_flow=records_pb2.FileFlow(ts=42))
        self.assertEqual(sysflux.record_kind(r), "file_flow")
        self.assertEqual(sysflux.record_type(r), records_pb2.RECORD_TYPE_FILE_FLOW)
        self.assertEqual(sysflux.record_time_ns(r), 42)
        h = records_pb2.Record(header=records_pb2.SFHeader(version=5))
        self.assertEqual(sysflux.record_time_ns(h), 0)
        self.assertEqual(sysflux.record_kind(records_pb2.Record()), "")
        self.assertEqual(sysflux.record_type(records_pb2.Record()), 0)

    def test_optional_fields(self) -> None:
        # proto3 optional fields keep their presence with the generated code.
        p = records_pb2.Process()
        self.assertFalse(p.HasField("container_id"))
        p.container_id = ""
        self.assertTrue(p.HasField("container_id"))


class TimeTest(unittest.TestCase):
    def test_rfc3339(self) -> None:
        self.assertEqual(sysflux.parse_rfc3339("1970-01-01T00:00:01.000000002Z"), 1_000_000_002)
        self.assertEqual(sysflux.parse_rfc3339("1970-01-01T01:00:00+01:00"), 0)
        self.assertEqual(sysflux.parse_rfc3339("1970-01-01T00:00:00.5Z"), 500_000_000)
        ns = 1_700_000_000_123_456_789
        self.assertEqual(sysflux.format_rfc3339(ns), "2023-11-14T22:13:20.123456789Z")
        self.assertEqual(sysflux.parse_rfc3339(sysflux.format_rfc3339(ns)), ns)
        for bad in ("2023-11-14", "2023-11-14T22:13:20", "2023-13-14T22:13:20Z", "x"):
            with self.assertRaises(ValueError, msg=bad):
                sysflux.parse_rfc3339(bad)

    def test_to_ns(self) -> None:
        ns = 1_700_000_000_123_456_789
        self.assertEqual(sysflux.to_ns(ns), ns)
        self.assertEqual(sysflux.to_ns("2023-11-14T22:13:20.123456789Z"), ns)
        d = dt.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=dt.timezone.utc)
        self.assertEqual(sysflux.to_ns(d), ns - 789)
        self.assertEqual(sysflux.to_ns(d.replace(tzinfo=None)), ns - 789)  # naive is UTC
        cet = dt.timezone(dt.timedelta(hours=1))
        self.assertEqual(sysflux.to_ns(d.astimezone(cet)), ns - 789)
        ts = sysflux.to_timestamp(ns)
        self.assertEqual((ts.seconds, ts.nanos), (1_700_000_000, 123_456_789))
        self.assertEqual(sysflux.to_ns(ts), ns)
        self.assertEqual(sysflux.ns_to_datetime(ns), d)
        with self.assertRaises(TypeError):
            sysflux.to_ns(1.5)  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            sysflux.to_ns(None)  # type: ignore[arg-type]

    def test_before_epoch(self) -> None:
        ts = sysflux.to_timestamp(-1)
        self.assertEqual((ts.seconds, ts.nanos), (-1, 999_999_999))
        self.assertEqual(sysflux.format_rfc3339(-1), "1969-12-31T23:59:59.999999999Z")


class FakeRpcError(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """A gRPC error as a call raises it."""

    def __init__(self, code: grpc.StatusCode, details: str, trailers: tuple = ()) -> None:
        self._code, self._details, self._trailers = code, details, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple:
        return self._trailers

    def initial_metadata(self) -> tuple:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


def rules_errors_trailer(*errs: policy_service_pb2.RulesError, message: str = "") -> tuple:
    detail = policy_service_pb2.RulesErrors(errors=list(errs)).SerializeToString()
    data = _status.encode_status(3, message, [("sysflux.policy.v1.RulesErrors", detail)])
    return (("grpc-status-details-bin", data),)


class StatusTest(unittest.TestCase):
    def test_round_trip(self) -> None:
        data = _status.encode_status(3, "bad", [("a.B", b"\x01"), ("c.D", b"")])
        st = _status.decode_status(data)
        self.assertEqual(st.code, 3)
        self.assertEqual(st.message, "bad")
        self.assertEqual([d.type_name for d in st.details], ["a.B", "c.D"])
        self.assertEqual(st.find("a.B"), b"\x01")
        self.assertIsNone(st.find("x.Y"))

    def test_wire_format(self) -> None:
        # google.rpc.Status{code: 3, message: "m", details: [Any{type_url: "t/x.Y", value: "v"}]}
        data = b"\x08\x03\x12\x01m\x1a\x0a\x0a\x05t/x.Y\x12\x01v"
        st = _status.decode_status(data)
        self.assertEqual((st.code, st.message), (3, "m"))
        self.assertEqual(st.details[0], _status.StatusDetail("x.Y", b"v"))

    def test_metadata(self) -> None:
        self.assertIsNone(_status.status_from_metadata(None))
        self.assertIsNone(_status.status_from_metadata((("other", "x"),)))
        self.assertIsNone(_status.status_from_metadata((("grpc-status-details-bin", b"\xff\xff"),)))
        st = _status.status_from_metadata(rules_errors_trailer(message="m"))
        assert st is not None
        self.assertEqual(st.message, "m")


class ErrorTest(unittest.TestCase):
    addr = "127.0.0.1:7700"

    def translate(self, e: grpc.RpcError, context: str = "", has_token: bool = False) -> errors.SysfluxError:
        return errors.from_rpc_error(e, address=self.addr, what="subscribe", context=context, has_token=has_token)

    def test_filter_error(self) -> None:
        e = FakeRpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "filter:1:20: unknown field proc.nam",
            rules_errors_trailer(policy_service_pb2.RulesError(file="filter", line=1, column=20, message="unknown field proc.nam")),
        )
        err = self.translate(e, "filter")
        self.assertIsInstance(err, sysflux.FilterError)
        self.assertIsInstance(err, sysflux.InvalidArgument)
        assert isinstance(err, sysflux.FilterError)
        self.assertEqual((err.line, err.column, err.message), (1, 20, "unknown field proc.nam"))
        self.assertEqual(err.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(err.code_name, "INVALID_ARGUMENT")
        self.assertIn("filter:1:20: unknown field proc.nam", str(err))
        self.assertIs(err.rpc_error, e)

    def test_rules_error(self) -> None:
        e = FakeRpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "rules do not compile",
            rules_errors_trailer(
                policy_service_pb2.RulesError(file="a.yaml", line=2, column=3, kind="rule", name="R", message="bad"),
                policy_service_pb2.RulesError(file="b.yaml", line=7, message="worse"),
            ),
        )
        err = self.translate(e, "rules")
        assert isinstance(err, sysflux.RulesError)
        self.assertEqual(len(err.problems), 2)
        self.assertEqual((err.file, err.line, err.column, err.message), ("a.yaml", 2, 3, "bad"))
        self.assertEqual(err.problems[1], sysflux.Problem("b.yaml", 7, 0, "worse"))
        self.assertIn("a.yaml:2:3: rule 'R': bad", str(err))
        self.assertIn("b.yaml:7: worse", str(err))
        self.assertIn("2 problems", str(err))

    def test_invalid_argument_without_detail(self) -> None:
        err = self.translate(FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "bad page token"), "filter")
        self.assertIs(type(err), sysflux.InvalidArgument)
        self.assertIn("bad page token", str(err))

    def test_codes(self) -> None:
        C = grpc.StatusCode
        unavailable = FakeRpcError(
            C.UNAVAILABLE,
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:7700: "
            "Failed to connect to remote host: Connection refused",
        )
        err = self.translate(unavailable)
        self.assertIsInstance(err, sysflux.HubUnreachable)
        self.assertEqual(str(err), "sysflux: could not reach the hub at 127.0.0.1:7700: Connection refused")

        err = self.translate(FakeRpcError(C.UNAUTHENTICATED, "missing bearer token"))
        self.assertIsInstance(err, sysflux.Unauthenticated)
        self.assertIn("wants a token", str(err))
        self.assertIn("UNAUTHENTICATED", str(err))
        err = self.translate(FakeRpcError(C.UNAUTHENTICATED, "unknown token"), has_token=True)
        self.assertIn("does not accept the token", str(err))

        err = self.translate(FakeRpcError(C.PERMISSION_DENIED, "token lacks scope admin"))
        self.assertIsInstance(err, sysflux.PermissionDenied)
        self.assertIn("PERMISSION_DENIED", str(err))
        self.assertIn("lacks scope admin", str(err))

        self.assertIsInstance(self.translate(FakeRpcError(C.NOT_FOUND, "x")), sysflux.NotFound)
        self.assertIsInstance(self.translate(FakeRpcError(C.DEADLINE_EXCEEDED, "x")), sysflux.DeadlineExceeded)
        other = self.translate(FakeRpcError(C.INTERNAL, "boom"))
        self.assertIs(type(other), sysflux.SysfluxError)
        self.assertIn("INTERNAL", str(other))
        self.assertEqual(other.code, C.INTERNAL)


class AddressTest(unittest.TestCase):
    def test_parse(self) -> None:
        self.assertEqual(_parse_address("127.0.0.1:7700"), ("127.0.0.1:7700", None))
        self.assertEqual(_parse_address("http://127.0.0.1:7700/"), ("127.0.0.1:7700", False))
        self.assertEqual(_parse_address("https://hub.example"), ("hub.example:443", True))
        self.assertEqual(_parse_address("http://[::1]"), ("[::1]:80", False))
        self.assertEqual(_parse_address("https://[::1]:9"), ("[::1]:9", True))
        with self.assertRaises(ValueError):
            _parse_address("http://h:1/path")
        with self.assertRaises(ValueError):
            _parse_address("")

    def test_tls_hints(self) -> None:
        from sysflux.client import _tls_hint

        self.assertIn("serve TLS", _tls_hint("last error: UNAVAILABLE: ipv4:1.2.3.4:5: Socket closed", False, False))
        self.assertIn("client certificate", _tls_hint("ipv4:1.2.3.4:5: Endpoint read failed", True, False))
        self.assertIn("root_certificates", _tls_hint("SSL routines::certificate verify failed", True, True))
        self.assertIn("http://", _tls_hint("SSL routines::wrong version number", True, False))
        self.assertEqual(_tls_hint("Connection refused", True, False), "")

    def test_options(self) -> None:
        with self.assertRaises(ValueError):
            Client("https://h:1", tls=False)
        with self.assertRaises(ValueError):
            Client("h:1", certificate_chain=b"x")
        with self.assertRaises(ValueError):
            Client("h:1", token="")
        with Client("h:1", token="t") as c:
            self.assertEqual(c.metadata, (("authorization", "Bearer t"),))
            self.assertFalse(c.tls)
            with self.assertRaises(ValueError):
                c.subscribe(content="everything")
            with self.assertRaises(ValueError):
                c.subscribe(language="sql")
            with self.assertRaises(ValueError):
                c.subscribe(heartbeat=0)
        with Client("h:1", root_certificates=b"-----BEGIN CERTIFICATE-----\n") as c:
            self.assertTrue(c.tls)


def proc(node: str, create_ts: int, hpid: int, ts: int, exe: str, container: str = "") -> records_pb2.Record:
    p = records_pb2.Process(oid=records_pb2.OID(create_ts=create_ts, hpid=hpid), ts=ts, exe=exe)
    if container:
        p.container_id = container
    return records_pb2.Record(node_id=node, process=p)


def event(node: str, create_ts: int, hpid: int, ts: int) -> records_pb2.Record:
    return records_pb2.Record(
        node_id=node,
        process_event=records_pb2.ProcessEvent(proc_oid=records_pb2.OID(create_ts=create_ts, hpid=hpid), ts=ts),
    )


class QueryPageTest(unittest.TestCase):
    def test_resolves_versions(self) -> None:
        # A process that called exec between two records comes in both versions.
        ents = [
            proc("n", 1, 10, 5, "/bin/sh", container="c1"),
            proc("n", 1, 10, 50, "/usr/sbin/iptables", container="c1"),
            proc("m", 1, 10, 5, "/bin/other"),
            records_pb2.Record(node_id="n", container=records_pb2.Container(id="c1", name="web", pod_id="p1")),
            records_pb2.Record(node_id="n", pod=records_pb2.Pod(id="p1", name="web-0")),
            records_pb2.Record(node_id="n", file=records_pb2.File(oid=b"f" * 20, path="/etc/passwd", ts=1)),
        ]
        recs = [event("n", 1, 10, 10), event("n", 1, 10, 60), event("m", 1, 10, 7), event("n", 2, 20, 1)]
        ff = records_pb2.Record(node_id="n", file_flow=records_pb2.FileFlow(proc_oid=records_pb2.OID(create_ts=1, hpid=10), ts=70, file_oid=b"f" * 20))
        page = sysflux.QueryPage(records=recs + [ff], entities=ents, next_page_token="", scanned_records=5)
        exe = lambda r: (page.process_of(r) or records_pb2.Process(exe="?")).exe  # noqa: E731
        self.assertEqual([exe(r) for r in recs], ["/bin/sh", "/usr/sbin/iptables", "/bin/other", "?"])
        # Before the first version: the first version.
        self.assertEqual(exe(event("n", 1, 10, 1)), "/bin/sh")
        c = page.container_of(recs[0])
        self.assertIsNotNone(c)
        assert c is not None
        self.assertEqual(c.name, "web")
        pod = page.pod_of(recs[0])
        assert pod is not None
        self.assertEqual(pod.name, "web-0")
        self.assertIsNone(page.container_of(recs[2]))
        f = page.file_of(ff)
        assert f is not None
        self.assertEqual(f.path, "/etc/passwd")
        self.assertIsNone(page.file_of(recs[0]))
        self.assertEqual(page.process_of(ents[0]), ents[0].process)


class ModelTest(unittest.TestCase):
    def test_alert(self) -> None:
        a = hub_service_pb2.Alert(
            rule="R", priority="Warning", output="out", source="syscall", tags=["x"], hostname="h",
            position=records_pb2.Position(agent_id="a", epoch=1, seq=7),
        )
        a.time.seconds, a.time.nanos = 1, 5
        a.output_fields["proc.name"] = "sh"
        al = sysflux.Alert.from_proto(a)
        self.assertEqual(al.time_ns, 1_000_000_005)
        self.assertEqual(al.position, sysflux.Position("a", 1, 7))
        self.assertEqual(al.agent_id, "a")
        j = al.to_falco_json()
        self.assertEqual(j["time"], "1970-01-01T00:00:01.000000005Z")
        self.assertEqual(j["output_fields"], {"proc.name": "sh"})

    def test_rules(self) -> None:
        resp = policy_service_pb2.ListRulesResponse(version=3)
        resp.files.add(name="base.yaml", size_bytes=10, sha256="ab")
        resp.report.rules.add(name="R", status=policy_service_pb2.RULE_STATUS_COMPILED, priority=policy_service_pb2.PRIORITY_NOTICE)
        st = sysflux.RulesState.from_proto(resp)
        self.assertEqual(st.version, 3)
        self.assertEqual(st.file_names, ["base.yaml"])
        r = st.rule("R")
        assert r is not None
        self.assertEqual((r.status, r.priority), ("compiled", "Notice"))
        self.assertIsNone(st.rule("S"))


class SubscriptionTest(unittest.TestCase):
    """The Subscription's reading and closing, over a fake stream."""

    class Stream:
        def __init__(self, items: list, error: "grpc.RpcError | None" = None, block: bool = False) -> None:
            import threading

            self.items, self.error, self.block = items, error, block
            self.cancelled = threading.Event()

        def __iter__(self):  # type: ignore[no-untyped-def]
            yield from self.items
            if self.error is not None:
                raise self.error
            if self.block:
                self.cancelled.wait(10)
                raise FakeRpcError(grpc.StatusCode.CANCELLED, "cancelled")

        def cancel(self) -> bool:
            self.cancelled.set()
            return True

    def translate(self, e: grpc.RpcError) -> errors.SysfluxError:
        return errors.from_rpc_error(e, address="a:1", what="subscribe", context="filter")

    def test_items(self) -> None:
        batch = hub_service_pb2.SubscribeResponse()
        for seq in (1, 2):
            batch.batch.records.add(agent_id="a", epoch=1, seq=seq, process_event=records_pb2.ProcessEvent(ts=seq))
        hb = hub_service_pb2.SubscribeResponse()
        hb.heartbeat.send_time.seconds = 3
        lost = hub_service_pb2.SubscribeResponse(lost=hub_service_pb2.RecordsLost(lost_records=4, reason="slow"))
        alert = hub_service_pb2.SubscribeResponse(alert=hub_service_pb2.Alert(rule="R"))
        stream = self.Stream([batch, hb, lost, alert, hub_service_pb2.SubscribeResponse()], block=True)
        sub = sysflux.Subscription(stream, self.translate)
        first = sub.get(5)
        self.assertEqual(sub.positions(), [sysflux.Position("a", 1, 1)])  # what was read, not what is buffered
        got = [first] + [sub.get(5) for _ in range(4)]
        self.assertEqual([g.seq for g in got[:2]], [1, 2])  # type: ignore[union-attr]
        self.assertEqual(got[2], sysflux.Heartbeat(3_000_000_000))
        self.assertEqual(got[3], sysflux.RecordsLost(4, "slow"))
        self.assertIsInstance(got[4], sysflux.Alert)
        self.assertEqual(sub.positions(), [sysflux.Position("a", 1, 2)])
        # The empty response (an item kind unknown to this client) is skipped; nothing follows.
        with self.assertRaises(TimeoutError):
            sub.get(0.2)
        sub.close()
        self.assertTrue(stream.cancelled.is_set())
        with self.assertRaises(StopIteration):
            sub.get(1)
        self.assertEqual(list(sub), [])

    def test_error(self) -> None:
        stream = self.Stream([], error=FakeRpcError(grpc.StatusCode.UNAUTHENTICATED, "no token"))
        with sysflux.Subscription(stream, self.translate) as sub:
            with self.assertRaises(sysflux.Unauthenticated):
                sub.get(5)
            with self.assertRaises(StopIteration):
                sub.get(5)

    def test_close_wakes_reader(self) -> None:
        import threading

        stream = self.Stream([], block=True)
        sub = sysflux.Subscription(stream, self.translate)
        threading.Timer(0.2, sub.close).start()
        self.assertEqual(list(sub), [])  # ends when closed, without error

    def test_client_closed(self) -> None:
        # Closing the client cancels its streams: the subscription ends without error.
        stream = self.Stream([], error=FakeRpcError(grpc.StatusCode.CANCELLED, "Channel closed!"))
        with sysflux.Subscription(stream, self.translate) as sub:
            self.assertEqual(list(sub), [])

    def test_end(self) -> None:
        with sysflux.Subscription(self.Stream([]), self.translate) as sub:
            self.assertEqual(list(sub), [])


class RulesFileTest(unittest.TestCase):
    def test_missing_file(self) -> None:
        with Client("127.0.0.1:1", timeout=1) as c:
            with tempfile.TemporaryDirectory() as d:
                with self.assertRaises(sysflux.SysfluxError) as cm:
                    c.push_rules(os.path.join(d, "none.yaml"))
                self.assertIn("none.yaml", str(cm.exception))


if __name__ == "__main__":
    unittest.main()


class ExamplesTest(unittest.TestCase):
    """The examples' formatting, offline."""

    @classmethod
    def setUpClass(cls) -> None:
        import sys

        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))

    def test_alert_lines(self) -> None:
        import json

        import alerts  # type: ignore[import-not-found]

        a = sysflux.Alert(
            rule="Shell spawned", priority="Warning", output="19:14:38.197660170: Warning Shell spawned (user=root)",
            time_ns=1_647_544_478_197_660_170, output_fields={"user.name": "root"}, source="syscall",
            tags=("process",), hostname="base", position=sysflux.Position("base", 1, 2),
        )
        self.assertEqual(alerts.format_alert(a), a.output)
        j = json.loads(alerts.format_alert(a, as_json=True))
        self.assertEqual(j["time"], "2022-03-17T19:14:38.197660170Z")
        self.assertEqual((j["rule"], j["priority"], j["hostname"]), ("Shell spawned", "Warning", "base"))

    def test_rows(self) -> None:
        import query_rows  # type: ignore[import-not-found]

        ents = [proc("n", 1, 10, 5, "/usr/sbin/iptables", container="c1")]
        nf = records_pb2.Record(
            node_id="n", agent_id="a", seq=9,
            network_flow=records_pb2.NetworkFlow(
                proc_oid=records_pb2.OID(create_ts=1, hpid=10), ts=7, op_flags=64 | 1024,
                sip=0x0C0011AC, sport=5, dip=0x0100007F, dport=80, proto=6, num_w_send_bytes=3,
            ),
        )
        page = sysflux.QueryPage(records=[nf], entities=ents, next_page_token="", scanned_records=1)
        (r,) = query_rows.rows([page])
        self.assertEqual(list(r), query_rows.COLUMNS)
        self.assertEqual(r["proc_name"], "iptables")
        self.assertEqual(r["container"], "c1")
        self.assertEqual(r["op"], "connect|close")
        self.assertEqual((r["sip"], r["dip"], r["dport"]), ("172.17.0.12", "127.0.0.1", 80))
        self.assertEqual(r["write_bytes"], 3)
        self.assertEqual(r["time"], "1970-01-01T00:00:00.000000007Z")

"""Live tests of the sysflux client against a real hub described by SYSFLUX_CLIENT_SPEC.

The spec (JSON) says where the hub is, its tokens, and what it must answer for a SysFlow trace
its first agent replayed; `go test ./clients` writes it and runs these tests. To run them by
hand against a held hub, from the repository root:

    SYSFLUX_CLIENTS_HOLD=/tmp/spec.json go test ./clients -run 'TestClients$' -count=1 -timeout 0 -v &
    SYSFLUX_CLIENT_SPEC=/tmp/spec.json /usr/bin/python3 -m unittest discover -s clients/python/tests -t clients/python -v

Without SYSFLUX_CLIENT_SPEC they are skipped. Every wait is bounded (WAIT seconds).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

REQUIRE_TOOLS = os.environ.get("SYSFLUX_REQUIRE_TOOLS") == "1"
SPEC_ENV = "SYSFLUX_CLIENT_SPEC"
HOW = (
    "set %s to the spec file of a running hub: from the repository root, "
    "SYSFLUX_CLIENTS_HOLD=/tmp/spec.json go test ./clients -run 'TestClients$' -count=1 -timeout 0 & "
    "then SYSFLUX_CLIENT_SPEC=/tmp/spec.json /usr/bin/python3 -m unittest discover -s clients/python/tests "
    "-t clients/python (go test ./clients runs them itself)" % SPEC_ENV
)

try:
    import grpc  # noqa: F401

    import sysflux
    from sysflux import Alert, Heartbeat, Record, RecordsLost
except ImportError as e:  # pragma: no cover - depends on the interpreter
    if REQUIRE_TOOLS:
        raise
    raise unittest.SkipTest("the sysflux client cannot be imported (%s); use a Python with grpcio and protobuf" % e)

#: The longest any single wait of these tests lasts, in seconds.
WAIT = 60.0
#: The name the tests push their rules file under: unique to this client.
PUSH_NAME = "python-iptables.yaml"


@dataclass
class Deadline:
    seconds: float = WAIT
    what: str = ""
    end: float = field(init=False)

    def __post_init__(self) -> None:
        self.end = time.monotonic() + self.seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out after %gs %s" % (self.seconds, self.what))
        return left


def next_item(sub: sysflux.Subscription, deadline: Deadline) -> sysflux.SubscribeItem:
    """The next item of a subscription, failing the test when none comes before the deadline
    or when the stream ends."""
    try:
        return sub.get(timeout=deadline.left())
    except TimeoutError:
        raise AssertionError("timed out after %gs %s" % (deadline.seconds, deadline.what)) from None
    except StopIteration:
        raise AssertionError("the subscription ended %s" % deadline.what) from None


def load_spec() -> Dict[str, Any]:
    path = os.environ.get(SPEC_ENV)
    if not path:
        raise unittest.SkipTest(HOW)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class LiveTest(unittest.TestCase):
    spec: Dict[str, Any]

    @classmethod
    def setUpClass(cls) -> None:
        cls.spec = load_spec()

    def client(self, token: Optional[str] = "read", address: Optional[str] = None) -> sysflux.Client:
        tok = self.spec["tokens"][token] if token else None
        c = sysflux.Client(address or self.spec["hub"], token=tok, timeout=WAIT)
        self.addCleanup(c.close)
        return c

    def replay(self) -> str:
        """Starts a new agent replaying the trace; its id, once the hub has all its records."""
        req = urllib.request.Request(self.spec["replay_url"], data=b"", method="POST")
        failure = ""
        try:
            with urllib.request.urlopen(req, timeout=WAIT + 30) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as e:
            failure = "replay: %s %s: %s" % (e.code, e.reason, e.read().decode(errors="replace").strip())
        if failure:
            self.fail(failure)
        self.assertEqual(body["records"], self.spec["records"])
        return body["agent_id"]

    # ---- 1. Subscribe -----------------------------------------------------------------------

    def test_1_subscribe(self) -> None:
        s = self.spec["subscribe"]
        c = self.client("read")
        sub = c.subscribe(
            s["filter"],
            language="falco",
            record_types=s["record_types"],
            node_ids=s["node_ids"],
            from_oldest=True,
            heartbeat=1,
        )
        with sub:
            expected: List[int] = s["expected_seqs"]
            seqs: List[int] = []
            d = Deadline(WAIT, "waiting for the subscription's records")
            while len(seqs) < len(expected):
                item = next_item(sub, d)
                self.assertNotIsInstance(item, RecordsLost)
                if isinstance(item, Record):
                    self.assertIn(item.node_id, s["node_ids"])
                    self.assertEqual(sysflux.record_kind(item), "process_event")
                    seqs.append(item.seq)
            # After the last one, nothing else until the hub says the stream is idle.
            d = Deadline(WAIT, "waiting for a heartbeat after the last record")
            while True:
                item = next_item(sub, d)
                if isinstance(item, Heartbeat):
                    break
                self.assertNotIsInstance(item, RecordsLost)
                if isinstance(item, Record):
                    seqs.append(item.seq)
            self.assertEqual(seqs, expected)
            self.assertEqual([(p.agent_id, p.seq) for p in sub.positions()], [(self.spec["agent_id"], expected[-1])])
        # Closed cleanly: reading on stops without error.
        self.assertTrue(sub.closed)
        self.assertEqual(list(sub), [])

    # ---- 2. Query ---------------------------------------------------------------------------

    def test_2_query(self) -> None:
        q = self.spec["query"]
        start, end = sysflux.to_ns(q["start_time"]), sysflux.to_ns(q["end_time"])
        c = self.client("read")
        t0 = time.monotonic()
        pages = list(
            c.query_pages(
                start=q["start_time"],
                end=q["end_time"],
                record_types=q["record_types"],
                node_ids=q["node_ids"],
                page_size=q["page_size"],
            )
        )
        self.assertLess(time.monotonic() - t0, WAIT)
        self.assertGreaterEqual(len(pages), q["min_pages"])
        self.assertEqual(pages[-1].next_page_token, "")
        seqs: List[int] = []
        last = start
        for i, page in enumerate(pages):
            self.assertLessEqual(len(page.records), q["page_size"])
            for r in page.records:
                t = sysflux.record_time_ns(r)
                self.assertGreaterEqual(t, last, "record %d: time goes back" % r.seq)
                self.assertLess(t, end, "record %d: after the range" % r.seq)
                last = t
                self.assertIn(r.node_id, q["node_ids"])
                proc = page.process_of(r)
                self.assertIsNotNone(proc, "page %d: the process of record %d is not among its entities" % (i, r.seq))
                assert proc is not None
                oid = getattr(r, sysflux.record_kind(r)).proc_oid
                self.assertEqual((proc.oid.create_ts, proc.oid.hpid), (oid.create_ts, oid.hpid))
                self.assertTrue(proc.exe, "record %d: its process has no executable" % r.seq)
                seqs.append(r.seq)
        self.assertEqual(seqs, q["expected_seqs"])
        # The flat iterator pages the same way.
        flat = [
            r.seq
            for r in c.query(
                start=start,
                end=end,
                record_types=q["record_types"],
                node_ids=q["node_ids"],
                page_size=q["page_size"],
            )
        ]
        self.assertEqual(flat, q["expected_seqs"])

    def test_2b_query_rows_example(self) -> None:
        """examples/query_rows.py prints one CSV row per record, its process resolved."""
        q = self.spec["query"]
        example = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "query_rows.py")
        env = dict(os.environ, SYSFLUX_TOKEN=self.spec["tokens"]["read"])
        out = subprocess.run(
            [sys.executable, example, "--hub", self.spec["hub"], "--start", q["start_time"], "--end", q["end_time"],
             "--types", ",".join(q["record_types"]), "--nodes", ",".join(q["node_ids"]), "--limit", "0"],
            env=env, capture_output=True, text=True, timeout=WAIT, check=False,
        )
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = list(csv.DictReader(io.StringIO(out.stdout)))
        self.assertEqual([int(r["seq"]) for r in rows], q["expected_seqs"])
        self.assertTrue(all(r["proc_exe"] for r in rows), "a row lacks its process")

    # ---- 3. Alerts and rules ----------------------------------------------------------------

    def collect_alerts(self, sub: sysflux.Subscription, agent: str, want: Dict[str, int]) -> Dict[str, int]:
        """Counts the alerts of agent by rule until want is reached, then until a heartbeat."""
        counts: Dict[str, int] = {}
        d = Deadline(WAIT, "waiting for the alerts of %s (%s)" % (agent, want))
        while any(counts.get(rule, 0) < n for rule, n in want.items()):
            item = next_item(sub, d)
            if isinstance(item, Alert) and item.position.agent_id == agent:
                counts[item.rule] = counts.get(item.rule, 0) + 1
        d = Deadline(WAIT, "waiting for a heartbeat after the alerts of %s" % agent)
        while True:
            item = next_item(sub, d)
            if isinstance(item, Heartbeat):
                return counts
            if isinstance(item, Alert) and item.position.agent_id == agent:
                counts[item.rule] = counts.get(item.rule, 0) + 1

    def test_3_alerts_and_rules(self) -> None:
        r = self.spec["rules"]
        base, pushed = r["base_rule"], r["push_rule"]
        reader, admin = self.client("read"), self.client("admin")
        if PUSH_NAME in admin.list_rules().file_names:  # left by an interrupted run
            admin.delete_rules(PUSH_NAME)

        with reader.subscribe(content="alerts", heartbeat=1) as sub:
            # a. The first heartbeat shows the subscription is registered.
            d = Deadline(WAIT, "waiting for the first heartbeat of the alerts subscription")
            while not isinstance(next_item(sub, d), Heartbeat):
                pass

            # b. A replay raises the base rule's alerts only.
            x = self.replay()
            counts = self.collect_alerts(sub, x, {base: r["base_alerts"]})
            self.assertEqual(counts.get(base, 0), r["base_alerts"], counts)
            self.assertEqual(counts.get(pushed, 0), 0, counts)

            # c. Push the rules file with the admin token.
            before = admin.list_rules()
            self.assertIsNone(before.rule(pushed))
            try:
                change = admin.push_rules(r["push_path"], name=PUSH_NAME)
                self.assertGreater(change.version, before.version)
                after = admin.list_rules()
                self.assertEqual(after.version, change.version)
                self.assertIn(PUSH_NAME, after.file_names)
                rule = after.rule(pushed)
                self.assertIsNotNone(rule)
                assert rule is not None
                self.assertEqual((rule.status, rule.file), ("compiled", PUSH_NAME))

                # The read token may not.
                with self.assertRaises(sysflux.PermissionDenied) as cm:
                    reader.push_rules(r["push_path"], name=PUSH_NAME)
                err = cm.exception
                self.assertEqual(err.code, grpc.StatusCode.PERMISSION_DENIED)
                self.assertIn("PERMISSION_DENIED", str(err))
                self.assertIn("may not push rules", str(err))
                self.assertEqual(admin.list_rules().version, change.version)

                # d. A replay now raises both rules' alerts.
                y = self.replay()
                counts = self.collect_alerts(sub, y, {base: r["base_alerts"], pushed: r["push_alerts"]})
                self.assertEqual(counts.get(base, 0), r["base_alerts"], counts)
                self.assertEqual(counts.get(pushed, 0), r["push_alerts"], counts)
            finally:
                # e. Leave the hub as found.
                if PUSH_NAME in admin.list_rules().file_names:
                    admin.delete_rules(PUSH_NAME)
            self.assertNotIn(PUSH_NAME, admin.list_rules().file_names)

        # f. A rules file that does not compile is refused, naming the file and the line.
        version = admin.list_rules().version
        with self.assertRaises(sysflux.RulesError) as rc:
            admin.push_rules(r["bad_path"])
        err2 = rc.exception
        name = os.path.basename(r["bad_path"])
        self.assertEqual(err2.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(err2.problems)
        self.assertIn((name, r["bad_line"]), [(p.file, p.line) for p in err2.problems], err2.problems)
        self.assertIn("%s:%d" % (name, r["bad_line"]), str(err2))
        self.assertEqual(admin.list_rules().version, version)

    # ---- 4. Errors --------------------------------------------------------------------------

    def assert_clear(self, err: Exception) -> None:
        """The error's text is words, not gRPC's debug output."""
        text = str(err)
        for noise in ("debug_error_string", "_InactiveRpcError", "_MultiThreadedRendezvous", "Traceback"):
            self.assertNotIn(noise, text)

    def test_4a_unreachable(self) -> None:
        addr = self.spec["unreachable"]
        c = self.client("read", address=addr)
        with self.assertRaises(sysflux.HubUnreachable) as cm:
            c.list_agents()
        err = cm.exception
        self.assertIn("could not reach the hub", str(err))
        self.assertIn(addr, str(err))
        self.assertEqual(err.code, grpc.StatusCode.UNAVAILABLE)
        self.assert_clear(err)
        with c.subscribe(heartbeat=1) as sub:
            with self.assertRaises(sysflux.HubUnreachable) as cm:
                sub.get(timeout=WAIT)
        self.assertIn(addr, str(cm.exception))

    def test_4b_bad_filter(self) -> None:
        b = self.spec["bad_filter"]
        c = self.client("read")

        def check(err: sysflux.FilterError) -> None:
            self.assertEqual(err.code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertEqual((err.line, err.column), (b["line"], b["column"]))
            self.assertIn(b["message"], err.message)
            self.assertIn(b["message"], str(err))
            self.assertIn(":%d:%d" % (b["line"], b["column"]), str(err))
            self.assert_clear(err)

        with c.subscribe(b["filter"], heartbeat=1) as sub:
            with self.assertRaises(sysflux.FilterError) as cm:
                sub.get(timeout=WAIT)
        check(cm.exception)
        with self.assertRaises(sysflux.FilterError) as cm:
            c.query_pages(b["filter"])
        check(cm.exception)
        with self.assertRaises(sysflux.FilterError) as cm:
            list(c.query(b["filter"]))
        check(cm.exception)

    def test_4c_no_token(self) -> None:
        c = self.client(None)
        with self.assertRaises(sysflux.Unauthenticated) as cm:
            c.list_agents()
        err = cm.exception
        self.assertEqual(err.code, grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("wants a token", str(err))
        self.assertIn("UNAUTHENTICATED", str(err))
        self.assert_clear(err)
        with c.subscribe(heartbeat=1) as sub:
            with self.assertRaises(sysflux.Unauthenticated) as cm:
                sub.get(timeout=WAIT)
        self.assertIn("wants a token", str(cm.exception))
        with self.assertRaises(sysflux.Unauthenticated):
            list(c.query())


if __name__ == "__main__":
    unittest.main()

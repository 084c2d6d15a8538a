// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Offline tests: the helpers, the error mapping from the hub's statuses, and an address where
// nothing listens. Everything that needs a hub is in live.test.ts, against a real one.

import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  Entities,
  FilterError,
  HubUnreachableError,
  PermissionDeniedError,
  RecordSchema,
  RecordType,
  RulesError,
  RulesErrorsSchema,
  SysfluxError,
  UnauthenticatedError,
  codeName,
  createClient,
  nanosToRfc3339,
  normalizeBaseUrl,
  parseRecordType,
  recordTime,
  recordTypeName,
  timestampNanos,
  toSysfluxError,
  toTimestamp,
  type Record,
} from "../src/index.js";

describe("record types", () => {
  test("accept every spelling", () => {
    for (const t of ["process_event", "PROCESS_EVENT", "RECORD_TYPE_PROCESS_EVENT", "processEvent", RecordType.PROCESS_EVENT]) {
      assert.equal(parseRecordType(t), RecordType.PROCESS_EVENT, String(t));
    }
    assert.equal(parseRecordType("k8s_event"), RecordType.K8S_EVENT);
    assert.equal(parseRecordType("k8sEvent"), RecordType.K8S_EVENT);
  });
  test("refuse unknown names, naming the valid ones", () => {
    assert.throws(() => parseRecordType("proc_event"), /unknown record type "proc_event": want one of header, container, process, file, process_event/);
    assert.throws(() => parseRecordType("unspecified"), TypeError);
    assert.throws(() => parseRecordType(99 as RecordType), TypeError);
  });
  test("name a record's type and time", () => {
    const r = create(RecordSchema, { rec: { case: "networkFlow", value: { ts: 42n } } });
    assert.equal(recordTypeName(r), "network_flow");
    assert.equal(recordTime(r), 42n);
    assert.equal(recordTime(create(RecordSchema, { rec: { case: "header", value: {} } })), undefined);
  });
});

describe("times", () => {
  test("RFC 3339 keeps nanoseconds", () => {
    const ts = toTimestamp("2026-01-02T03:04:05.123456789Z");
    assert.equal(ts.nanos, 123456789);
    assert.equal(nanosToRfc3339(timestampNanos(ts)), "2026-01-02T03:04:05.123456789Z");
    assert.equal(timestampNanos(toTimestamp("2026-01-02T04:04:05.5+01:00")), timestampNanos(toTimestamp("2026-01-02T03:04:05.5Z")));
  });
  test("bigint nanoseconds and Dates", () => {
    assert.equal(timestampNanos(toTimestamp(1_700_000_000_123_456_789n)), 1_700_000_000_123_456_789n);
    assert.equal(timestampNanos(toTimestamp(new Date(1500))), 1_500_000_000n);
  });
  test("refuse text that is no time", () => {
    assert.throws(() => toTimestamp("yesterday"), /not an RFC 3339 time: "yesterday"/);
  });
});

describe("addresses", () => {
  test("host:port and URLs", () => {
    assert.deepEqual(normalizeBaseUrl("127.0.0.1:7700"), { baseUrl: "http://127.0.0.1:7700", address: "127.0.0.1:7700" });
    assert.deepEqual(normalizeBaseUrl("https://hub.example:443/"), { baseUrl: "https://hub.example:443", address: "hub.example" });
    assert.throws(() => normalizeBaseUrl("ftp://x"), /not a hub address/);
  });
  test("gRPC needs HTTP/2", () => {
    assert.throws(() => createClient({ baseUrl: "127.0.0.1:1", httpVersion: "1.1" }), /gRPC protocol needs HTTP\/2/);
  });
});

/** Process pid 7 created at ts 100, exec'd at ts 200 (two versions); events at 150 and 250. */
function sampleRecords(): { records: Record[]; entities: Record[] } {
  const oid = { hpid: 7n, createTs: 100n };
  const entities = [
    create(RecordSchema, { nodeId: "n1", rec: { case: "process", value: { oid, ts: 100n, exe: "/bin/sh", exeArgs: "-c x" } } }),
    create(RecordSchema, { nodeId: "n1", rec: { case: "process", value: { oid, ts: 200n, exe: "/usr/sbin/iptables", exeArgs: "-L" } } }),
  ];
  const records = [150n, 250n].map((ts, i) =>
    create(RecordSchema, { nodeId: "n1", agentId: "a1", seq: BigInt(i + 1), rec: { case: "processEvent", value: { procOid: oid, ts, opFlags: 2 } } }),
  );
  return { records, entities };
}

describe("entities", () => {
  test("a record resolves to the process version in force at its time", () => {
    const { records, entities } = sampleRecords();
    const e = new Entities(entities.slice().reverse());
    assert.equal(e.process(records[0]!)?.exe, "/bin/sh");
    assert.equal(e.process(records[1]!)?.exe, "/usr/sbin/iptables");
    assert.equal(e.file(records[0]!), undefined);
    const other = create(RecordSchema, { nodeId: "n2", rec: { case: "processEvent", value: { procOid: { hpid: 7n, createTs: 100n }, ts: 150n } } });
    assert.equal(e.process(other), undefined, "processes are per node");
  });
});

describe("error mapping", () => {
  const ctx = { address: "127.0.0.1:7700", op: "query", tokenSent: false };
  const detail = (file: string) => ({ desc: RulesErrorsSchema, value: { errors: [{ file, line: 1, column: 20, message: "unknown field proc.nam" }] } });
  test("a filter error carries the parser's message, line and column", () => {
    const ce = new ConnectError("filter:1:20: unknown field proc.nam", Code.InvalidArgument, undefined, [detail("filter")]);
    const e = toSysfluxError(ce, { ...ctx, filter: "proc.name = sh and proc.nam = x" });
    assert.ok(e instanceof FilterError);
    assert.equal(e.line, 1);
    assert.equal(e.column, 20);
    assert.equal(e.reason, "unknown field proc.nam");
    assert.equal(e.code, Code.InvalidArgument);
    assert.equal(e.message, "invalid query filter at line 1, column 20: unknown field proc.nam");
  });
  test("a rules error names the file", () => {
    const ce = new ConnectError("x", Code.InvalidArgument, undefined, [detail("broken.yaml")]);
    const e = toSysfluxError(ce, { ...ctx, op: "push rules" });
    assert.ok(e instanceof RulesError);
    assert.equal(e.file, "broken.yaml");
    assert.match(e.message, /^rules do not compile: broken\.yaml:1:20: unknown field proc\.nam$/);
  });
  test("codes become their classes", () => {
    assert.ok(toSysfluxError(new ConnectError("no", Code.Unauthenticated), ctx) instanceof UnauthenticatedError);
    assert.ok(toSysfluxError(new ConnectError("no", Code.PermissionDenied), ctx) instanceof PermissionDeniedError);
    const plain = toSysfluxError(new ConnectError("gone", Code.NotFound), ctx);
    assert.equal(plain.constructor, SysfluxError);
    assert.equal(plain.message, "query on the sysflux hub at 127.0.0.1:7700 failed (NOT_FOUND): gone");
    assert.equal(codeName(Code.InvalidArgument), "INVALID_ARGUMENT");
    // A hub that answers UNAVAILABLE itself was reached.
    assert.ok(!(toSysfluxError(new ConnectError("draining", Code.Unavailable), ctx) instanceof HubUnreachableError));
  });
  test("a fetch failure is an unreachable hub", () => {
    const ce = ConnectError.from(new TypeError("Failed to fetch"));
    const e = toSysfluxError(ce, ctx);
    assert.ok(e instanceof HubUnreachableError);
    assert.match(e.message, /^could not reach the sysflux hub at 127\.0\.0\.1:7700: Failed to fetch \(is the hub running, and does it allow this page's origin with --cors-origin\?\)$/);
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("an unreachable hub", () => {
  for (const protocol of ["grpc", "connect", "grpc-web"] as const) {
    test(`is named in the error (${protocol})`, async () => {
      const port = await freePort();
      const c = createClient({ baseUrl: `127.0.0.1:${port}`, protocol, token: "a-token" });
      try {
        await assert.rejects(c.listAgents(), (e: unknown) => {
          assert.ok(e instanceof HubUnreachableError, String(e));
          assert.equal(e.address, `127.0.0.1:${port}`);
          assert.match(e.message, new RegExp(`^could not reach the sysflux hub at 127\\.0\\.0\\.1:${port}: `));
          return true;
        });
        await assert.rejects(async () => {
          for await (const _ of c.subscribe()) break;
        }, HubUnreachableError);
      } finally {
        c.close();
      }
    });
  }
});

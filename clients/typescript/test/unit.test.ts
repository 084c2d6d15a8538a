// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Offline tests: the helpers, the error mapping, and the client against an in-process hub over
// every protocol and HTTP version.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
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
  type NodeClientOptions,
  type SubscribeItem,
} from "../src/index.js";
import { ADMIN_TOKEN, READ_TOKEN, sampleRecords, startFakeHub, type FakeHub } from "./fakehub.js";

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

const variants: { name: string; opts: (hub: FakeHub) => Omit<NodeClientOptions, "token"> }[] = [
  { name: "grpc", opts: (h) => ({ baseUrl: h.h2Url, protocol: "grpc" }) },
  { name: "connect over HTTP/2", opts: (h) => ({ baseUrl: h.h2Url, protocol: "connect", httpVersion: "2" }) },
  { name: "connect over HTTP/1.1", opts: (h) => ({ baseUrl: h.h1Url, protocol: "connect" }) },
  { name: "connect JSON", opts: (h) => ({ baseUrl: h.h1Url, protocol: "connect", useBinaryFormat: false }) },
  { name: "grpc-web over HTTP/2", opts: (h) => ({ baseUrl: h.h2Url, protocol: "grpc-web", httpVersion: "2" }) },
  { name: "grpc-web over HTTP/1.1", opts: (h) => ({ baseUrl: h.h1Url, protocol: "grpc-web" }) },
];

describe("client against an in-process hub", () => {
  let hub: FakeHub;
  before(async () => {
    hub = await startFakeHub();
  });
  after(async () => {
    await hub.close();
  });

  for (const v of variants) {
    describe(v.name, () => {
      test("subscribe yields typed items and cancels with a signal", async () => {
        const c = createClient({ ...v.opts(hub), token: READ_TOKEN });
        try {
          const abort = new AbortController();
          const got: SubscribeItem["kind"][] = [];
          const seqs: bigint[] = [];
          for await (const item of c.subscribe({ recordTypes: ["process_event"] }, { fromOldest: true, heartbeatIntervalMs: 1000, signal: abort.signal })) {
            got.push(item.kind);
            if (item.kind === "record") seqs.push(item.record.seq);
            if (item.kind === "alert") assert.equal(item.alert.rule, "Shell spawned");
            if (item.kind === "lost") assert.equal(item.lostRecords, 5n);
            if (item.kind === "heartbeat") abort.abort();
          }
          assert.deepEqual(got, ["record", "record", "record", "alert", "lost", "heartbeat"]);
          assert.deepEqual(seqs, [1n, 2n, 3n]);
        } finally {
          c.close();
        }
      });
      test("breaking out of a subscription cancels it", async () => {
        const c = createClient({ ...v.opts(hub), token: READ_TOKEN });
        try {
          let n = 0;
          for await (const _ of c.subscribe()) if (++n === 2) break;
          assert.equal(n, 2);
        } finally {
          c.close();
        }
      });
      test("query pages transparently, with entities", async () => {
        const c = createClient({ ...v.opts(hub), token: READ_TOKEN });
        try {
          const seqs: bigint[] = [];
          for await (const r of c.query({ recordTypes: ["PROCESS_EVENT"] }, { pageSize: 4 })) seqs.push(r.seq);
          assert.deepEqual(seqs, [1n, 2n, 3n, 4n, 5n, 6n]);
          const pages = [];
          for await (const p of c.queryPages({ recordTypes: [RecordType.PROCESS_EVENT] }, { pageSize: 2, start: "1970-01-01T00:00:00.000000100Z" })) pages.push(p);
          assert.equal(pages.length, 3);
          assert.equal(pages[0]!.resolve.process(pages[0]!.records[1]!)?.exe, "/usr/sbin/iptables");
          assert.equal(pages[2]!.nextPageToken, "");
        } finally {
          c.close();
        }
      });
      test("a bad filter is a FilterError with line and column, on subscribe and query", async () => {
        const c = createClient({ ...v.opts(hub), token: READ_TOKEN });
        try {
          const filter = "proc.name = sh and proc.nam = x";
          await assert.rejects(
            async () => {
              for await (const _ of c.subscribe({ filter })) break;
            },
            (e: unknown) => e instanceof FilterError && e.line === 1 && e.column === 20 && e.reason === "unknown field proc.nam" && e.filter === filter,
          );
          await assert.rejects(
            async () => {
              for await (const _ of c.query({ filter })) break;
            },
            (e: unknown) => e instanceof FilterError && e.line === 1 && e.column === 20 && /line 1, column 20: unknown field proc\.nam/.test(e.message),
          );
        } finally {
          c.close();
        }
      });
      test("tokens: none, read, admin", async () => {
        const none = createClient(v.opts(hub));
        const read = createClient({ ...v.opts(hub), token: READ_TOKEN });
        const admin = createClient({ ...v.opts(hub), token: ADMIN_TOKEN });
        try {
          await assert.rejects(none.listAgents(), (e: unknown) => e instanceof UnauthenticatedError && /wants a valid bearer token \(UNAUTHENTICATED\): no token was given/.test(e.message));
          assert.equal((await read.listAgents())[0]?.agentId, "a1");
          await assert.rejects(read.pushRulesContent("x.yaml", "- list: x\n  items: []\n"), (e: unknown) => e instanceof PermissionDeniedError && e.code === Code.PermissionDenied && /does not allow push rules/.test(e.message));
          const name = `unit-${v.name.replace(/\W+/g, "-")}.yaml`;
          const before = (await read.listRules()).version;
          const put = await admin.pushRulesContent(name, "- list: x\n  items: []\n");
          assert.ok(put.version > before);
          assert.ok((await read.listRules()).files.some((f) => f.name === name));
          await admin.deleteRules(name);
          await assert.rejects(admin.deleteRules(name), (e: unknown) => e instanceof SysfluxError && e.code === Code.NotFound);
        } finally {
          none.close();
          read.close();
          admin.close();
        }
      });
    });
  }

  test("pushRules reads a file and a bad one is a RulesError naming it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sysflux-ts-"));
    const c = createClient({ baseUrl: hub.h2Url, token: ADMIN_TOKEN });
    try {
      const bad = join(dir, "broken.yaml");
      await writeFile(bad, "- rule: r\n  desc: d\n  condition: (((\n");
      await assert.rejects(c.pushRules(bad), (e: unknown) => e instanceof RulesError && e.file === "broken.yaml" && e.line === 3 && /broken\.yaml:3:14/.test(e.message));
      const good = join(dir, "good.yaml");
      await writeFile(good, "- list: x\n  items: []\n");
      await c.pushRules(good, { name: "renamed.yaml" });
      assert.ok((await c.listRules({ includeContent: true })).files.some((f) => f.name === "renamed.yaml" && f.content.includes("list: x")));
      await c.deleteRules(["renamed.yaml"]);
      const v = await c.validateRules([{ name: "v.yaml", content: "(((" }]);
      assert.equal(v.errors[0]?.file, "v.yaml");
    } finally {
      c.close();
      await rm(dir, { recursive: true });
    }
  });
});

describe("an unreachable hub", () => {
  for (const protocol of ["grpc", "connect", "grpc-web"] as const) {
    test(`is named in the error (${protocol})`, async () => {
      const port = await freePort();
      const c = createClient({ baseUrl: `127.0.0.1:${port}`, protocol, token: READ_TOKEN });
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

// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// The live tests: every assertion of the clients' conformance spec, against a real hub fed by
// agents replaying a real SysFlow trace. Subscribe and Query run over gRPC (HTTP/2), Connect and
// gRPC-Web; alerts, rules and errors over gRPC too. Skipped without SYSFLUX_CLIENT_SPEC.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, describe, test } from "node:test";
import {
  Code,
  FilterError,
  HubUnreachableError,
  PermissionDeniedError,
  RulesError,
  UnauthenticatedError,
  createClient,
  recordProcessOid,
  recordTime,
  timestampNanos,
  toTimestamp,
  type Alert,
  type NodeClientOptions,
  type NodeSysfluxClient,
  type SubscribeItem,
} from "../src/index.js";
import { HOW_TO_RUN, loadSpec, replay } from "./spec.js";

const spec = loadSpec();

/** Reads a stream item by item, each read with its own timeout. */
class Reader<T> {
  private readonly it: AsyncIterator<T>;
  private pending: Promise<IteratorResult<T>> | undefined;
  constructor(iterable: AsyncIterable<T>) {
    this.it = iterable[Symbol.asyncIterator]();
  }
  async next(timeoutMs: number, what: string): Promise<T> {
    this.pending ??= this.it.next();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    });
    try {
      const r = await Promise.race([this.pending, timeout]);
      this.pending = undefined;
      if (r.done) throw new Error(`the stream ended while waiting for ${what}`);
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  }
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

const protocols: { name: string; opts: Pick<NodeClientOptions, "protocol" | "httpVersion"> }[] = [
  { name: "gRPC over HTTP/2", opts: { protocol: "grpc" } },
  { name: "Connect", opts: { protocol: "connect" } },
  { name: "gRPC-Web", opts: { protocol: "grpc-web" } },
];

describe("live hub", { skip: spec === undefined ? HOW_TO_RUN : false, timeout: 600_000 }, () => {
  if (spec === undefined) return;
  const clients: NodeSysfluxClient[] = [];
  const client = (opts: NodeClientOptions) => {
    const c = createClient(opts);
    clients.push(c);
    return c;
  };
  after(() => {
    for (const c of clients) c.close();
  });

  for (const p of protocols) {
    describe(p.name, () => {
      test("1. Subscribe from the oldest record with the filter returns exactly the expected records", { timeout: 120_000 }, async () => {
        const s = spec.subscribe;
        const c = client({ baseUrl: spec.hub_url, token: spec.tokens.read, ...p.opts });
        const abort = new AbortController();
        const reader = new Reader<SubscribeItem>(
          c.subscribe(
            { recordTypes: s.record_types, nodeIds: s.node_ids, filter: s.filter, language: "falco" },
            { fromOldest: true, heartbeatIntervalMs: 1000, signal: abort.signal },
          ),
        );
        const seqs: number[] = [];
        let heartbeats = 0;
        try {
          // Every expected record, then read on until a heartbeat: nothing else may come.
          for (;;) {
            const item = await reader.next(30_000, `record ${seqs.length + 1} of ${s.expected_seqs.length}, or a heartbeat after them`);
            if (item.kind === "record") {
              assert.equal(item.record.nodeId, spec.node, "record of another node");
              seqs.push(Number(item.record.seq));
              assert.ok(seqs.length <= s.expected_seqs.length, `more records than expected: ${seqs.join(",")}`);
            } else if (item.kind === "heartbeat") {
              heartbeats++;
              if (seqs.length === s.expected_seqs.length) break;
            } else if (item.kind === "lost") {
              assert.fail(`records lost: ${item.lostRecords} (${item.reason})`);
            }
          }
        } finally {
          abort.abort();
          await reader.close();
        }
        assert.deepEqual(seqs, s.expected_seqs);
        assert.ok(heartbeats >= 1);
      });

      test("2. Query pages over the time range return exactly the expected records, resolved", { timeout: 120_000 }, async () => {
        const q = spec.query;
        const c = client({ baseUrl: spec.hub_url, token: spec.tokens.read, ...p.opts });
        const start = timestampNanos(toTimestamp(q.start_time));
        const end = timestampNanos(toTimestamp(q.end_time));
        const seqs: number[] = [];
        let pages = 0;
        let last = -1n;
        for await (const page of c.queryPages(
          { recordTypes: q.record_types, nodeIds: q.node_ids },
          { start: q.start_time, end: q.end_time, pageSize: q.page_size, signal: AbortSignal.timeout(100_000) },
        )) {
          pages++;
          assert.ok(pages <= 10 * Math.max(q.min_pages, 1), "too many pages: the query does not end");
          for (const r of page.records) {
            const t = recordTime(r);
            assert.ok(t !== undefined, `record ${r.seq} has no time`);
            assert.ok(t >= last, `record ${r.seq} at ${t} comes after a record at ${last}`);
            assert.ok(t >= start && t < end, `record ${r.seq} at ${t} is outside [${start}, ${end})`);
            last = t;
            seqs.push(Number(r.seq));
            const oid = recordProcessOid(r);
            if (oid !== undefined) {
              const proc = page.resolve.process(r);
              assert.ok(proc !== undefined, `the process (pid ${oid.hpid}, created ${oid.createTs}) of record ${r.seq} is not among the page's entities`);
              assert.equal(proc.oid?.hpid, oid.hpid);
              assert.equal(proc.oid?.createTs, oid.createTs);
            }
          }
        }
        assert.ok(pages >= q.min_pages, `${pages} pages, want at least ${q.min_pages}`);
        assert.equal(new Set(seqs).size, seqs.length, "a record came twice");
        assert.deepEqual([...seqs].sort((a, b) => a - b), [...q.expected_seqs].sort((a, b) => a - b));
      });

      test("4b. A filter that does not compile is a FilterError with the parser's message, line and column", { timeout: 30_000 }, async () => {
        const b = spec.bad_filter;
        const c = client({ baseUrl: spec.hub_url, token: spec.tokens.read, ...p.opts });
        const check = (e: unknown) => {
          assert.ok(e instanceof FilterError, `want a FilterError, got ${String(e)}`);
          assert.equal(e.line, b.line);
          assert.equal(e.column, b.column);
          assert.ok(e.reason.includes(b.message), e.reason);
          assert.ok(e.message.includes(b.message) && e.message.includes(`line ${b.line}, column ${b.column}`), e.message);
          assert.equal(e.code, Code.InvalidArgument);
          assert.equal(e.filter, b.filter);
          return true;
        };
        await assert.rejects(async () => {
          for await (const _ of c.subscribe({ filter: b.filter }, { fromOldest: true, signal: AbortSignal.timeout(20_000) })) break;
        }, check);
        await assert.rejects(async () => {
          for await (const _ of c.query({ filter: b.filter }, { signal: AbortSignal.timeout(20_000) })) break;
        }, check);
      });

      test("4a. An unreachable hub is an error naming its address", { timeout: 30_000 }, async () => {
        const c = client({ baseUrl: spec.unreachable, token: spec.tokens.read, ...p.opts });
        const check = (e: unknown) => {
          assert.ok(e instanceof HubUnreachableError, `want a HubUnreachableError, got ${String(e)}`);
          assert.equal(e.address, spec.unreachable);
          assert.ok(e.message.startsWith(`could not reach the sysflux hub at ${spec.unreachable}`), e.message);
          return true;
        };
        await assert.rejects(c.listAgents({ timeoutMs: 10_000 }), check);
        await assert.rejects(async () => {
          for await (const _ of c.query({}, { timeoutMs: 10_000 })) break;
        }, check);
      });

      test("4c. No token is an UnauthenticatedError saying the hub wants one", { timeout: 30_000 }, async () => {
        const c = client({ baseUrl: spec.hub_url, ...p.opts });
        const check = (e: unknown) => {
          assert.ok(e instanceof UnauthenticatedError, `want an UnauthenticatedError, got ${String(e)}`);
          assert.equal(e.code, Code.Unauthenticated);
          assert.match(e.message, /^the sysflux hub at \S+ wants a valid bearer token \(UNAUTHENTICATED\): no token was given/);
          assert.ok(!e.message.includes("\n") && e.message.length < 300, `a short message, not transport noise: ${e.message}`);
          return true;
        };
        await assert.rejects(c.listAgents(), check);
        await assert.rejects(async () => {
          for await (const _ of c.subscribe({}, { signal: AbortSignal.timeout(20_000) })) break;
        }, check);
      });
    });
  }

  test("The query-table example loads the query's records into rows with their processes", { timeout: 120_000 }, async () => {
    const q = spec.query;
    const script = fileURLToPath(new URL("../examples/query-table.js", import.meta.url));
    const args = [script, "--hub", spec.hub, "--start", q.start_time, "--end", q.end_time, "--types", q.record_types.join(",")];
    for (const n of q.node_ids) args.push("--node", n);
    args.push("--limit", String(q.expected_seqs.length + 1), "--json");
    const { stdout } = await promisify(execFile)(process.execPath, args, {
      env: { ...process.env, SYSFLUX_TOKEN: spec.tokens.read },
      timeout: 100_000,
      maxBuffer: 64 << 20,
    });
    const rows = JSON.parse(stdout) as { seq: number; pid?: number; exe: string }[];
    assert.deepEqual(rows.map((r) => r.seq).sort((a, b) => a - b), [...q.expected_seqs].sort((a, b) => a - b));
    assert.ok(rows.every((r) => r.pid !== undefined && r.exe !== ""), "every row has its process");
  });

  test("3. Alerts follow the rules in force: base rules, a pushed file, then removed", { timeout: 300_000 }, async () => {
    const r = spec.rules;
    const read = client({ baseUrl: spec.hub_url, token: spec.tokens.read });
    const admin = client({ baseUrl: spec.hub_url, token: spec.tokens.admin });
    const pushName = "typescript-iptables.yaml";

    // a. An alerts-only subscription, registered once its first heartbeat arrives.
    const abort = new AbortController();
    const reader = new Reader<SubscribeItem>(read.subscribe({}, { content: "alerts", heartbeatIntervalMs: 1000, signal: abort.signal }));
    // Alerts of one agent, read until `done` holds and then until a heartbeat (quiet).
    const alertsOf = async (agentId: string, done: (counts: Map<string, number>) => boolean): Promise<Map<string, number>> => {
      const counts = new Map<string, number>();
      let complete = false;
      for (;;) {
        const item = await reader.next(60_000, `alerts of agent ${agentId} (so far ${JSON.stringify([...counts])})`);
        if (item.kind === "alert") {
          const a: Alert = item.alert;
          if (a.position?.agentId !== agentId) continue;
          counts.set(a.rule, (counts.get(a.rule) ?? 0) + 1);
          complete = done(counts);
        } else if (item.kind === "heartbeat" && complete) {
          return counts;
        } else if (item.kind === "lost") {
          assert.fail(`alerts lost: ${item.lostRecords} (${item.reason})`);
        }
      }
    };
    try {
      for (;;) if ((await reader.next(30_000, "the first heartbeat")).kind === "heartbeat") break;

      // b. A replay raises the base rule's alerts only.
      const x = await replay(spec.replay_url);
      const bx = await alertsOf(x.agent_id, (m) => (m.get(r.base_rule) ?? 0) >= r.base_alerts);
      assert.equal(bx.get(r.base_rule), r.base_alerts, `alerts of ${r.base_rule} for ${x.agent_id}`);
      assert.equal(bx.get(r.push_rule) ?? 0, 0, `alerts of ${r.push_rule} before it was pushed`);

      // c. Push the rules file with the admin token; the read token may not.
      try {
        const before = await read.listRules();
        const put = await admin.pushRules(r.push_path, { name: pushName });
        assert.ok(put.version > before.version, `version ${put.version} after push, ${before.version} before`);
        const listed = await read.listRules();
        assert.ok(listed.files.some((f) => f.name === pushName), "the pushed file is listed");
        assert.ok(listed.report?.rules.some((rule) => rule.name === r.push_rule), `rule ${r.push_rule} is listed`);
        await assert.rejects(read.pushRules(r.push_path, { name: pushName }), (e: unknown) => {
          assert.ok(e instanceof PermissionDeniedError, `want a PermissionDeniedError, got ${String(e)}`);
          assert.equal(e.code, Code.PermissionDenied);
          assert.match(e.message, /does not allow push rules on the sysflux hub at .* \(PERMISSION_DENIED\)/);
          return true;
        });

        // d. A replay now raises both rules' alerts.
        const y = await replay(spec.replay_url);
        const by = await alertsOf(y.agent_id, (m) => (m.get(r.base_rule) ?? 0) >= r.base_alerts && (m.get(r.push_rule) ?? 0) >= r.push_alerts);
        assert.equal(by.get(r.base_rule), r.base_alerts, `alerts of ${r.base_rule} for ${y.agent_id}`);
        assert.equal(by.get(r.push_rule), r.push_alerts, `alerts of ${r.push_rule} for ${y.agent_id}`);
      } finally {
        // e. Leave the hub as found.
        try {
          await admin.deleteRules(pushName);
        } catch (e) {
          if (!(e instanceof Error && "code" in e && e.code === Code.NotFound)) throw e;
        }
      }
      assert.ok(!(await read.listRules()).files.some((f) => f.name === pushName), "the pushed file is gone");
    } finally {
      abort.abort();
      await reader.close();
    }

    // f. A rules file that does not compile is refused, naming the file and the line.
    await assert.rejects(admin.pushRules(r.bad_path), (e: unknown) => {
      assert.ok(e instanceof RulesError, `want a RulesError, got ${String(e)}`);
      assert.equal(e.file, basename(r.bad_path));
      assert.equal(e.line, r.bad_line);
      assert.ok(e.message.includes(`${basename(r.bad_path)}:${r.bad_line}`), e.message);
      return true;
    });
    assert.ok(!(await read.listRules()).files.some((f) => f.name === basename(r.bad_path)), "the bad file is not in force");
  });
});

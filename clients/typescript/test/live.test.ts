// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// The live tests: every assertion of the clients' conformance spec, and the client's own
// behaviour, against a real hub fed by agents replaying a real SysFlow trace. Subscribe, Query,
// cancellation, tokens and errors run over every protocol and HTTP version the client speaks from
// Node.js; alerts and rules over gRPC, and the examples as programs. Skipped without
// SYSFLUX_CLIENT_SPEC.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, describe, test } from "node:test";
import {
  Code,
  FilterError,
  HubUnreachableError,
  PermissionDeniedError,
  RulesError,
  SysfluxError,
  UnauthenticatedError,
  createClient,
  recordProcessOid,
  recordTime,
  timestampNanos,
  toTimestamp,
  type Alert,
  type NodeClientOptions,
  type NodeSysfluxClient,
  type QueryPage,
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

/** Waits for `work`, or fails saying what it waited for once `ms` have passed. */
async function within<T>(ms: number, what: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether e is a SysfluxError with this code. */
const hasCode = (e: unknown, code: Code) => e instanceof SysfluxError && e.code === code;

/** The compiled examples. */
const example = (name: string) => fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));
const run = promisify(execFile);

/** A rules file that changes no alert: a list no rule uses. */
const listRules = (list: string) => `- list: ${list}\n  items: [sh, bash]\n`;

/** Every protocol, HTTP version and encoding the client speaks from Node.js. */
const protocols: { name: string; slug: string; opts: Pick<NodeClientOptions, "protocol" | "httpVersion" | "useBinaryFormat"> }[] = [
  { name: "gRPC over HTTP/2", slug: "grpc", opts: { protocol: "grpc" } },
  { name: "Connect over HTTP/1.1", slug: "connect_h1", opts: { protocol: "connect", httpVersion: "1.1" } },
  { name: "Connect over HTTP/2", slug: "connect_h2", opts: { protocol: "connect", httpVersion: "2" } },
  { name: "Connect with JSON over HTTP/1.1", slug: "connect_json", opts: { protocol: "connect", useBinaryFormat: false } },
  { name: "gRPC-Web over HTTP/1.1", slug: "grpcweb_h1", opts: { protocol: "grpc-web", httpVersion: "1.1" } },
  { name: "gRPC-Web over HTTP/2", slug: "grpcweb_h2", opts: { protocol: "grpc-web", httpVersion: "2" } },
  { name: "gRPC-Web with JSON over HTTP/1.1", slug: "grpcweb_json", opts: { protocol: "grpc-web", useBinaryFormat: false } },
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
        const tokens: string[] = [];
        let pages = 0;
        let last = -1n;
        for await (const page of c.queryPages(
          { recordTypes: q.record_types, nodeIds: q.node_ids },
          { start: q.start_time, end: q.end_time, pageSize: q.page_size, signal: AbortSignal.timeout(100_000) },
        )) {
          pages++;
          tokens.push(page.nextPageToken);
          assert.ok(pages <= 10 * Math.max(q.min_pages, 1), "too many pages: the query does not end");
          assert.ok(page.records.length <= q.page_size, `${page.records.length} records in a page of ${q.page_size}`);
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
        assert.equal(tokens.at(-1), "", "the last page has no next page token");
        assert.ok(tokens.slice(0, -1).every((t) => t !== ""), "every page but the last has a next page token");
        assert.equal(new Set(seqs).size, seqs.length, "a record came twice");
        assert.deepEqual([...seqs].sort((a, b) => a - b), [...q.expected_seqs].sort((a, b) => a - b));
      });

      test("A subscription cancelled by its AbortSignal ends quietly, aborted in the loop or while it waits", { timeout: 120_000 }, async () => {
        const s = spec.subscribe;
        const c = client({ baseUrl: spec.hub_url, token: spec.tokens.read, ...p.opts });
        const sel = { recordTypes: s.record_types, nodeIds: s.node_ids, filter: s.filter, language: "falco" } as const;

        // Aborted in the loop at the first record: nothing more comes (not even the rest of its
        // batch), and the loop ends without an error.
        const inLoop = new AbortController();
        const got: SubscribeItem[] = [];
        await within(60_000, "the subscription to end once aborted in the loop", async () => {
          for await (const item of c.subscribe(sel, { fromOldest: true, heartbeatIntervalMs: 1000, signal: inLoop.signal })) {
            got.push(item);
            if (item.kind === "record") inLoop.abort();
          }
        });
        const records = got.filter((i) => i.kind === "record");
        assert.equal(records.length, 1, `items after the abort: ${got.map((i) => i.kind).join(",")}`);
        assert.equal(got.at(-1), records[0], "the record that aborted is the last item");
        assert.equal(Number(records[0]!.record.seq), s.expected_seqs[0]);

        // Aborted from a timer while the loop waits for the item after the first heartbeat.
        const waiting = new AbortController();
        const seqs: number[] = [];
        let afterAbort = 0;
        let timer: NodeJS.Timeout | undefined;
        try {
          await within(60_000, "the subscription to end once aborted while waiting", async () => {
            for await (const item of c.subscribe(sel, { fromOldest: true, heartbeatIntervalMs: 1000, signal: waiting.signal })) {
              if (waiting.signal.aborted) afterAbort++;
              if (item.kind === "record") seqs.push(Number(item.record.seq));
              if (item.kind === "heartbeat") timer ??= setTimeout(() => waiting.abort(), 100);
            }
          });
        } finally {
          clearTimeout(timer);
        }
        assert.ok(waiting.signal.aborted, "the loop ended before its signal aborted");
        assert.equal(afterAbort, 0, "items came after the abort");
        assert.deepEqual(seqs, s.expected_seqs.slice(0, seqs.length), "the records before the abort are the first expected ones");
      });

      test("Leaving a subscription's loop with break cancels it, and the client goes on", { timeout: 120_000 }, async () => {
        const s = spec.subscribe;
        const c = client({ baseUrl: spec.hub_url, token: spec.tokens.read, ...p.opts });
        const sub = c.subscribe(
          { recordTypes: s.record_types, nodeIds: s.node_ids, filter: s.filter, language: "falco" },
          { fromOldest: true, heartbeatIntervalMs: 1000 },
        );
        const seqs: number[] = [];
        await within(60_000, "two records", async () => {
          for await (const item of sub) {
            if (item.kind === "record" && seqs.push(Number(item.record.seq)) === 2) break;
          }
        });
        assert.deepEqual(seqs, s.expected_seqs.slice(0, 2));
        assert.deepEqual(await within(10_000, "the ended subscription", () => sub.next()), { done: true, value: undefined });
        // The same client (and, over HTTP/2, the same connection) serves the next call.
        const agents = await c.listAgents({ timeoutMs: 20_000 });
        const base = agents.find((a) => a.agentId === spec.agent_id);
        assert.ok(base, `agent ${spec.agent_id} is not listed: ${agents.map((a) => a.agentId).join(",")}`);
        assert.equal(base.nodeId, spec.node);
        assert.ok(base.receivedRecords >= BigInt(spec.records), `the hub has ${base.receivedRecords} records of ${spec.agent_id}`);
      });

      test("query() yields every page's records in time order, and a page token resumes after its page", { timeout: 120_000 }, async () => {
        const q = spec.query;
        const c = client({ baseUrl: spec.hub_url, token: spec.tokens.read, ...p.opts });
        const sel = { recordTypes: q.record_types, nodeIds: q.node_ids };
        const opts = { start: q.start_time, end: q.end_time, pageSize: q.page_size };
        const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

        const seqs: number[] = [];
        let last = -1n;
        for await (const r of c.query(sel, { ...opts, signal: AbortSignal.timeout(100_000) })) {
          const t = recordTime(r)!;
          assert.ok(t >= last, `record ${r.seq} at ${t} comes after a record at ${last}`);
          last = t;
          seqs.push(Number(r.seq));
        }
        assert.equal(new Set(seqs).size, seqs.length, "a record came twice");
        assert.deepEqual(sorted(seqs), sorted(q.expected_seqs));

        let first: QueryPage | undefined;
        for await (const page of c.queryPages(sel, { ...opts, signal: AbortSignal.timeout(30_000) })) {
          first = page;
          break;
        }
        assert.ok(first !== undefined && first.nextPageToken !== "", "the query has a second page");
        const rest: number[] = [];
        for await (const r of c.query(sel, { ...opts, pageToken: first.nextPageToken, signal: AbortSignal.timeout(100_000) })) rest.push(Number(r.seq));
        const head = first.records.map((r) => Number(r.seq));
        assert.ok(!rest.some((x) => head.includes(x)), "the resumed query repeats the first page");
        assert.deepEqual(sorted([...head, ...rest]), sorted(q.expected_seqs));
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

      test("Tokens: none or an unknown one is refused, a read token reads, only an admin token changes the rules", { timeout: 60_000 }, async () => {
        const none = client({ baseUrl: spec.hub_url, ...p.opts });
        const unknown = client({ baseUrl: spec.hub_url, token: "not-a-sysflux-token", ...p.opts });
        const read = client({ baseUrl: spec.hub_url, token: spec.tokens.read, ...p.opts });
        const admin = client({ baseUrl: spec.hub_url, token: spec.tokens.admin, ...p.opts });
        const name = `typescript-tokens-${p.slug}.yaml`;
        const content = listRules(`typescript_tokens_${p.slug}`);
        const listed = async () => (await read.listRules()).files.some((f) => f.name === name);

        await assert.rejects(none.listAgents(), (e: unknown) => e instanceof UnauthenticatedError && /wants a valid bearer token \(UNAUTHENTICATED\): no token was given/.test(e.message));
        await assert.rejects(unknown.listAgents(), (e: unknown) => e instanceof UnauthenticatedError && /wants a valid bearer token \(UNAUTHENTICATED\): the token given was refused/.test(e.message));
        assert.ok((await read.listAgents()).some((a) => a.agentId === spec.agent_id), "the read token lists the agents");
        await assert.rejects(read.pushRulesContent(name, content), (e: unknown) => {
          assert.ok(e instanceof PermissionDeniedError, `want a PermissionDeniedError, got ${String(e)}`);
          assert.equal(e.code, Code.PermissionDenied);
          assert.match(e.message, /^the token's scope does not allow push rules on the sysflux hub at \S+ \(PERMISSION_DENIED\)/);
          return true;
        });
        assert.ok(!(await listed()), "a refused push is not in force");

        const before = (await read.listRules()).version;
        try {
          const put = await admin.pushRulesContent(name, content);
          assert.ok(put.version > before, `version ${put.version} after the push, ${before} before`);
          assert.ok(await listed(), "the pushed file is listed");
          await assert.rejects(read.deleteRules(name), (e: unknown) => e instanceof PermissionDeniedError && /does not allow delete rules/.test(e.message));
          const del = await admin.deleteRules(name);
          assert.ok(del.version > put.version, `version ${del.version} after the delete, ${put.version} before`);
        } finally {
          await admin.deleteRules(name).catch((e: unknown) => assert.ok(hasCode(e, Code.NotFound), String(e)));
        }
        assert.ok(!(await listed()), "the deleted file is gone");
        await assert.rejects(admin.deleteRules(name), (e: unknown) => hasCode(e, Code.NotFound) && (e as Error).message.includes(name));
      });
    });
  }

  test("The query-table example loads the query's records into rows with their processes", { timeout: 120_000 }, async () => {
    const q = spec.query;
    const args = [example("query-table"), "--hub", spec.hub, "--start", q.start_time, "--end", q.end_time, "--types", q.record_types.join(",")];
    for (const n of q.node_ids) args.push("--node", n);
    args.push("--limit", String(q.expected_seqs.length + 1), "--json");
    const { stdout } = await run(process.execPath, args, {
      env: { ...process.env, SYSFLUX_TOKEN: spec.tokens.read },
      timeout: 100_000,
      maxBuffer: 64 << 20,
    });
    const rows = JSON.parse(stdout) as { seq: number; pid?: number; exe: string }[];
    assert.deepEqual(rows.map((r) => r.seq).sort((a, b) => a - b), [...q.expected_seqs].sort((a, b) => a - b));
    assert.ok(rows.every((r) => r.pid !== undefined && r.exe !== ""), "every row has its process");
  });

  test("The query-table example over Connect with a Falco filter: a row per matching exec, with its program", { timeout: 120_000 }, async () => {
    const s = spec.subscribe;
    const args = [example("query-table"), "--hub", spec.hub_url, "--protocol", "connect", "--token", spec.tokens.read, "--filter", s.filter, "--types", s.record_types.join(",")];
    for (const n of s.node_ids) args.push("--node", n);
    args.push("--limit", String(s.expected_seqs.length + 1), "--json");
    const { stdout } = await run(process.execPath, args, { timeout: 100_000, maxBuffer: 64 << 20 });
    const rows = JSON.parse(stdout) as { seq: number; node: string; type: string; op: string; pid?: number; exe: string }[];
    assert.deepEqual(rows.map((r) => r.seq).sort((a, b) => a - b), s.expected_seqs);
    for (const r of rows) {
      assert.equal(r.node, spec.node);
      assert.equal(r.type, "process_event");
      assert.ok(r.op.split("|").includes("EXEC"), `row ${r.seq}: op ${r.op}`);
      assert.equal(basename(r.exe), "iptables", `row ${r.seq}: exe ${r.exe}`);
      assert.ok(r.pid !== undefined && r.pid > 0, `row ${r.seq}: pid ${r.pid}`);
    }
  });

  test("The examples' errors are one line", { timeout: 60_000 }, async () => {
    const noToken = { ...process.env, SYSFLUX_TOKEN: "" };
    await assert.rejects(run(process.execPath, [example("query-table"), "--hub", spec.hub], { env: noToken, timeout: 30_000 }), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 1);
      assert.match(e.stderr, /^query-table: the sysflux hub at \S+ wants a valid bearer token \(UNAUTHENTICATED\): no token was given/);
      assert.equal(e.stderr.trim().split("\n").length, 1, e.stderr);
      return true;
    });
    await assert.rejects(
      run(process.execPath, [example("query-table"), "--hub", spec.hub, "--filter", spec.bad_filter.filter], { env: { ...process.env, SYSFLUX_TOKEN: spec.tokens.read }, timeout: 30_000 }),
      (e: { code: number; stderr: string }) => {
        assert.equal(e.code, 1);
        const b = spec.bad_filter;
        assert.ok(e.stderr.startsWith(`query-table: invalid query filter at line ${b.line}, column ${b.column}: `) && e.stderr.includes(b.message), e.stderr);
        assert.equal(e.stderr.trim().split("\n").length, 1, e.stderr);
        return true;
      },
    );
    await assert.rejects(run(process.execPath, [example("alerts"), "--hub", spec.unreachable], { env: noToken, timeout: 30_000 }), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 1);
      assert.ok(e.stderr.startsWith(`alerts: could not reach the sysflux hub at ${spec.unreachable}`), e.stderr);
      assert.equal(e.stderr.trim().split("\n").length, 1, e.stderr);
      return true;
    });
  });

  test("The alerts example over gRPC-Web prints the base rule's alerts of a replay, and stops on SIGINT", { timeout: 240_000 }, async () => {
    const r = spec.rules;
    const args = [example("alerts"), "--hub", spec.hub_url, "--protocol", "grpc-web", "--heartbeat", "1"];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, SYSFLUX_TOKEN: spec.tokens.read },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 200_000, // killed (SIGTERM) if still running then
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    let stderr = "";
    child.stderr.setEncoding("utf8");
    // Lines of stderr and stdout as they come, for waiting on them one by one.
    const waiters: (() => void)[] = [];
    const wake = () => waiters.splice(0).forEach((w) => w());
    child.stderr.on("data", (d: string) => {
      stderr += d;
      wake();
    });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on("line", (l) => {
      lines.push(l);
      wake();
    });
    child.once("exit", wake);
    const until = (what: string, ms: number, ok: () => boolean) =>
      within(ms, `${what} (stdout ${JSON.stringify(lines)}, stderr ${JSON.stringify(stderr)})`, async () => {
        while (!ok()) {
          if (child.exitCode !== null || child.signalCode !== null) throw new Error(`alerts ended while waiting for ${what}: ${stderr}`);
          await new Promise<void>((w) => waiters.push(w));
        }
      });
    try {
      // Subscribed once it says so (on its first heartbeat): alerts raised from now on come.
      await until("the example to subscribe", 60_000, () => stderr.includes("alerts: subscribed to the sysflux hub at "));
      const x = await replay(spec.replay_url);
      const ofX = (rule: string) => lines.filter((l) => l.includes(` ${rule} [${x.node_id}] `)).length;
      await until(`${r.base_alerts} alerts of ${r.base_rule} for node ${x.node_id}`, 120_000, () => ofX(r.base_rule) >= r.base_alerts);
      // A moment for any further alert of the replay to show, then interrupt it as a user does.
      await new Promise((w) => setTimeout(w, 2000));
      child.kill("SIGINT");
      const { code, signal } = await within(30_000, "the example to stop after SIGINT", () => exited);
      assert.equal(signal, null, `killed by ${signal}: ${stderr}`);
      assert.equal(code, 0, `exit code ${code}: ${stderr}`);
      assert.equal(ofX(r.base_rule), r.base_alerts, `alerts of ${r.base_rule} for ${x.node_id}:\n${lines.join("\n")}`);
      for (const l of lines.filter((l) => l.includes(` ${r.base_rule} [${x.node_id}] `))) {
        assert.match(l, /^\d{4}-\d\d-\d\dT\S+Z Warning +Shell spawned \[/, l);
        assert.match(l, /Shell spawned \(user=/, l);
      }
      assert.equal(stderr.trim().split("\n").length, 1, `only the subscribed line on stderr: ${stderr}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });

  test("Rules files: pushed from disk under another name, listed with their content; validation finds a broken file's line and changes nothing", { timeout: 60_000 }, async () => {
    const r = spec.rules;
    const read = client({ baseUrl: spec.hub_url, token: spec.tokens.read });
    const admin = client({ baseUrl: spec.hub_url, token: spec.tokens.admin });
    const dir = await mkdtemp(join(tmpdir(), "sysflux-ts-"));
    const path = join(dir, "lists.yaml");
    const content = listRules("typescript_renamed");
    const name = "typescript-renamed.yaml";
    try {
      await writeFile(path, content);
      await admin.pushRules(path, { name });
      const listed = await read.listRules({ includeContent: true });
      assert.equal(listed.files.find((f) => f.name === name)?.content, content, "the file is in force under its new name, with its content");
      assert.ok(!listed.files.some((f) => f.name === "lists.yaml"), "not under its own name");
      await admin.deleteRules([name]);
      assert.ok(!(await read.listRules()).files.some((f) => f.name === name), "the file is gone");
    } finally {
      await admin.deleteRules([name]).catch((e: unknown) => assert.ok(hasCode(e, Code.NotFound), String(e)));
      await rm(dir, { recursive: true, force: true });
    }

    const before = (await read.listRules()).version;
    const bad = await read.validateRules([{ name: basename(r.bad_path), content: await readFile(r.bad_path, "utf8") }]);
    assert.equal(bad.errors[0]?.file, basename(r.bad_path), JSON.stringify(bad.errors));
    assert.equal(bad.errors[0]?.line, r.bad_line, JSON.stringify(bad.errors));
    const good = await read.validateRules([{ name: "lists.yaml", content }]);
    assert.deepEqual(good.errors, [], "a file that compiles has no errors");
    const pushable = await read.validateRules([{ name: basename(r.push_path), content: await readFile(r.push_path, "utf8") }]);
    assert.deepEqual(pushable.errors, []);
    assert.ok(pushable.report?.rules.some((rule) => rule.name === r.push_rule), `the report names ${r.push_rule}`);
    const after = await read.listRules();
    assert.equal(after.version, before, "validation puts nothing in force");
    assert.ok(!after.report?.rules.some((rule) => rule.name === r.push_rule), `${r.push_rule} is not in force`);
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

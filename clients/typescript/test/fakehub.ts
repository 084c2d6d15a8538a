// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// A small in-process hub for the offline tests: it implements HubService and PolicyService with
// connect-node over cleartext HTTP/2 and HTTP/1.1, with bearer tokens and the hub's error
// details, so that the client is tested over the real wire formats of all three protocols.

import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { HubService, SubscribeResponseSchema } from "../src/gen/sysflux/hub/v1/hub_service_pb.js";
import { PolicyService, RulesErrorsSchema } from "../src/gen/sysflux/policy/v1/policy_service_pb.js";
import { RecordSchema, RecordType, type Record } from "../src/gen/sysflow/v1/records_pb.js";

export const READ_TOKEN = "read-token";
export const ADMIN_TOKEN = "admin-token";

function rulesErrors(file: string, line: number, column: number, message: string): ConnectError {
  return new ConnectError(`${file}:${line}:${column}: ${message}`, Code.InvalidArgument, undefined, [
    { desc: RulesErrorsSchema, value: { errors: [{ file, line, column, message }] } },
  ]);
}

function auth(ctx: HandlerContext, admin = false): void {
  const h = ctx.requestHeader.get("authorization");
  if (h === null) throw new ConnectError("missing bearer token", Code.Unauthenticated);
  const token = h.replace(/^Bearer /, "");
  if (token !== READ_TOKEN && token !== ADMIN_TOKEN) throw new ConnectError("unknown token", Code.Unauthenticated);
  if (admin && token !== ADMIN_TOKEN) throw new ConnectError("token lacks scope admin", Code.PermissionDenied);
}

/** Process pid 7 created at ts 100, exec'd at ts 200 (two versions); events at 150 and 250. */
export function sampleRecords(): { records: Record[]; entities: Record[] } {
  const oid = { hpid: 7n, createTs: 100n };
  const entities = [
    create(RecordSchema, { nodeId: "n1", rec: { case: "process", value: { oid, ts: 100n, exe: "/bin/sh", exeArgs: "-c x" } } }),
    create(RecordSchema, { nodeId: "n1", rec: { case: "process", value: { oid, ts: 200n, exe: "/usr/sbin/iptables", exeArgs: "-L" } } }),
  ];
  const records = [150n, 250n, 300n, 350n, 400n, 450n].map((ts, i) =>
    create(RecordSchema, {
      nodeId: "n1",
      agentId: "a1",
      seq: BigInt(i + 1),
      rec: { case: "processEvent", value: { procOid: oid, ts, opFlags: 2 } },
    }),
  );
  return { records, entities };
}

function routes(router: ConnectRouter): void {
  router.service(HubService, {
    async *subscribe(req, ctx) {
      auth(ctx);
      if (req.filter.includes("proc.nam ")) throw rulesErrors("filter", 1, 20, "unknown field proc.nam");
      const { records } = sampleRecords();
      const items: MessageInitShape<typeof SubscribeResponseSchema>[] = [
        { item: { case: "batch", value: { records: records.slice(0, 3) } } },
        { item: { case: "alert", value: { rule: "Shell spawned", priority: "Warning", position: { agentId: "a1", seq: 2n } } } },
        { item: { case: "lost", value: { lostRecords: 5n, reason: "slow subscriber" } } },
        { item: { case: "heartbeat", value: { sendTime: timestampNow() } } },
      ];
      for (const item of items) yield item;
      // Hold the stream open until the client cancels, as a live subscription does.
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    },
    async query(req, ctx) {
      auth(ctx);
      if (req.filter.includes("proc.nam ")) throw rulesErrors("filter", 1, 20, "unknown field proc.nam");
      if (req.recordTypes.some((t) => t !== RecordType.PROCESS_EVENT)) throw new ConnectError("unexpected types", Code.InvalidArgument);
      const { records, entities } = sampleRecords();
      const page = req.pageToken === "" ? 0 : Number(req.pageToken);
      const size = req.pageSize || 1000;
      const next = (page + 1) * size < records.length ? String(page + 1) : "";
      return { records: records.slice(page * size, (page + 1) * size), entities, nextPageToken: next, scannedRecords: BigInt(size) };
    },
    listAgents(_req, ctx) {
      auth(ctx);
      return { agents: [{ address: "127.0.0.1:1", agentId: "a1", nodeId: "n1", connected: true, receivedRecords: 6n }] };
    },
  });
  let version = 1n;
  const files = new Map<string, string>();
  router.service(PolicyService, {
    putRules(req, ctx) {
      auth(ctx, true);
      for (const f of req.files) {
        const bad = f.content.split("\n").findIndex((l) => l.includes("condition: ((("));
        if (bad >= 0) throw rulesErrors(f.name, bad + 1, 14, "unbalanced parentheses");
      }
      if (req.replaceAll) files.clear();
      for (const f of req.files) files.set(f.name, f.content);
      version++;
      return { version };
    },
    deleteRules(req, ctx) {
      auth(ctx, true);
      for (const n of req.names) if (!files.has(n)) throw new ConnectError(`no rules file ${n}`, Code.NotFound);
      for (const n of req.names) files.delete(n);
      version++;
      return { version };
    },
    listRules(req, ctx) {
      auth(ctx);
      return {
        version,
        files: [...files].map(([name, content]) => ({ name, sizeBytes: BigInt(content.length), content: req.includeContent ? content : "" })),
      };
    },
    validateRules(req, ctx) {
      auth(ctx);
      return { errors: req.files.filter((f) => f.content.includes("(((")).map((f) => ({ file: f.name, line: 1, message: "bad" })) };
    },
  });
}

/** A running fake hub: an HTTP/2 (h2c) and an HTTP/1.1 listener on loopback. */
export interface FakeHub {
  h2Url: string;
  h1Url: string;
  close(): Promise<void>;
}

export async function startFakeHub(): Promise<FakeHub> {
  const handler = connectNodeAdapter({ routes });
  const h2 = http2.createServer(handler);
  const h1 = http.createServer(handler);
  await new Promise<void>((r) => h2.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => h1.listen(0, "127.0.0.1", r));
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  return {
    h2Url: `http://127.0.0.1:${(h2.address() as AddressInfo).port}`,
    h1Url: `http://127.0.0.1:${(h1.address() as AddressInfo).port}`,
    async close() {
      for (const s of sessions) s.destroy();
      h1.closeAllConnections();
      await Promise.all([new Promise((r) => h2.close(r)), new Promise((r) => h1.close(r))]);
    },
  };
}

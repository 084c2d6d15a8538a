// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// The script of the browser test's page, bundled with the browser entry point: it runs a Query
// over Connect, a Subscribe over gRPC-Web and bad filters over both, and leaves what it found in
// window.sysfluxResult for the test to check.

import { FilterError, SysfluxError, createClient, type SysfluxClient } from "../src/browser.js";

/** What the test hands the page. */
export interface PageSpec {
  hubUrl: string;
  token: string;
  subscribe: { filter: string; recordTypes: string[]; nodeIds: string[]; expectedCount: number };
  query: { start: string; end: string; recordTypes: string[]; nodeIds: string[]; pageSize: number };
  badFilter: string;
  unreachableUrl: string;
}

/** An error as the page saw it. */
export interface PageError {
  name: string;
  message: string;
  code?: string;
  line?: number;
  column?: number;
  reason?: string;
}

/** What the page found. */
export interface PageResult {
  query?: { seqs: number[]; pages: number } | { error: PageError };
  subscribe?: { seqs: number[]; heartbeats: number } | { error: PageError };
  queryBadFilter?: PageError | null;
  subscribeBadFilter?: PageError | null;
  noToken?: PageError | null;
  unreachable?: PageError | null;
  fatal?: string;
}

declare global {
  interface Window {
    sysfluxSpec: PageSpec;
    sysfluxResult?: PageResult;
  }
}

function describeError(e: unknown): PageError {
  if (e instanceof FilterError) {
    return { name: e.name, message: e.message, code: e.codeName, line: e.line, column: e.column, reason: e.reason };
  }
  if (e instanceof SysfluxError) return { name: e.name, message: e.message, code: e.codeName };
  return { name: e instanceof Error ? e.name : typeof e, message: String(e) };
}

async function query(c: SysfluxClient, s: PageSpec): Promise<PageResult["query"]> {
  const seqs: number[] = [];
  let pages = 0;
  for await (const page of c.queryPages(
    { recordTypes: s.query.recordTypes, nodeIds: s.query.nodeIds },
    { start: s.query.start, end: s.query.end, pageSize: s.query.pageSize, signal: AbortSignal.timeout(60_000) },
  )) {
    pages++;
    for (const r of page.records) seqs.push(Number(r.seq));
  }
  return { seqs, pages };
}

async function subscribe(c: SysfluxClient, s: PageSpec): Promise<PageResult["subscribe"]> {
  const seqs: number[] = [];
  let heartbeats = 0;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 60_000);
  try {
    for await (const item of c.subscribe(
      { recordTypes: s.subscribe.recordTypes, nodeIds: s.subscribe.nodeIds, filter: s.subscribe.filter },
      { fromOldest: true, heartbeatIntervalMs: 1000, signal: stop.signal },
    )) {
      // Every expected record, then on until a heartbeat: nothing else may come.
      if (item.kind === "record") {
        seqs.push(Number(item.record.seq));
        if (seqs.length > s.subscribe.expectedCount) break;
      } else if (item.kind === "heartbeat") {
        heartbeats++;
        if (seqs.length === s.subscribe.expectedCount) break;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  return { seqs, heartbeats };
}

async function rejection(f: () => Promise<unknown>): Promise<PageError | null> {
  try {
    await f();
    return null;
  } catch (e) {
    return describeError(e);
  }
}

async function main(): Promise<PageResult> {
  const s = window.sysfluxSpec;
  const connect = createClient({ baseUrl: s.hubUrl, token: s.token, protocol: "connect" });
  const grpcWeb = createClient({ baseUrl: s.hubUrl, token: s.token, protocol: "grpc-web" });
  const result: PageResult = {};
  result.query = await query(connect, s).catch((e: unknown) => ({ error: describeError(e) }));
  result.subscribe = await subscribe(grpcWeb, s).catch((e: unknown) => ({ error: describeError(e) }));
  result.queryBadFilter = await rejection(async () => {
    for await (const _ of connect.query({ filter: s.badFilter }, { signal: AbortSignal.timeout(20_000) })) break;
  });
  result.subscribeBadFilter = await rejection(async () => {
    for await (const _ of grpcWeb.subscribe({ filter: s.badFilter }, { signal: AbortSignal.timeout(20_000) })) break;
  });
  result.noToken = await rejection(() => createClient({ baseUrl: s.hubUrl, protocol: "connect" }).listAgents());
  result.unreachable = await rejection(() => createClient({ baseUrl: s.unreachableUrl, token: s.token }).listAgents({ timeoutMs: 10_000 }));
  return result;
}

main().then(
  (r) => {
    window.sysfluxResult = r;
  },
  (e: unknown) => {
    window.sysfluxResult = { fatal: String(e) };
  },
);

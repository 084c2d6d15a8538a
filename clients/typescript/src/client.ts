// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// The client proper, shared by Node.js and browsers: it takes a Connect transport (gRPC, gRPC-Web
// or Connect protocol) and turns the hub's API into typed async iterables and promises, with
// errors that say what went wrong.

import { create } from "@bufbuild/protobuf";
import { durationFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { createClient as createConnectClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  FilterLanguage,
  HubService,
  SubscribeContent,
  type Alert,
  type AgentStatus,
  QueryRequestSchema,
  SubscribeRequestSchema,
} from "./gen/sysflux/hub/v1/hub_service_pb.js";
import {
  PolicyService,
  type DeleteRulesResponse,
  type ListRulesResponse,
  type PutRulesResponse,
  type ValidateRulesResponse,
} from "./gen/sysflux/policy/v1/policy_service_pb.js";
import { PositionSchema, type Position, type Record, type RecordType } from "./gen/sysflow/v1/records_pb.js";
import { toSysfluxError, type CallContext } from "./errors.js";
import { Entities, parseRecordType, toTimestamp, type RecordTypeLike, type TimeLike } from "./records.js";

/** The wire protocols a client can speak. Browsers have "connect" and "grpc-web" only. */
export type Protocol = "grpc" | "connect" | "grpc-web";

/** Which records a Subscribe or Query selects. Selectors of different kinds must all match. */
export interface RecordFilter {
  /** The record types, by enum value or name ("process_event", "PROCESS_EVENT", ...); empty: all. */
  recordTypes?: readonly RecordTypeLike[];
  /** The nodes; empty: all. */
  nodeIds?: readonly string[];
  /** A condition the records must meet, in `language`; empty matches every record. */
  filter?: string;
  /** The language of `filter`: "falco" (the default) or "cel". */
  language?: "falco" | "cel" | FilterLanguage;
}

/** What every call may take. */
export interface CallOptions {
  /** Cancels the call: a subscription or query ends quietly, a unary call rejects. */
  signal?: AbortSignal;
  /** A deadline for the call, in milliseconds (for unary calls the client's default applies). */
  timeoutMs?: number;
}

/** How to subscribe. */
export interface SubscribeOptions extends CallOptions {
  /** Start with the oldest record the hub still holds rather than the next new one. */
  fromOldest?: boolean;
  /** The last position seen of each agent: only records after it are sent. */
  resumeAfter?: readonly Position[];
  /** The idle time after which the hub sends a heartbeat, in milliseconds; 0 means the hub's 10 s. */
  heartbeatIntervalMs?: number;
  /** What to receive: "records" (the default), "alerts", or "both". */
  content?: "records" | "alerts" | "both";
  /** OperationFlag bits: a record matches when its op_flags share a bit with these. */
  opFlags?: number;
}

/** One item of a subscription. */
export type SubscribeItem =
  | { kind: "record"; record: Record }
  | { kind: "alert"; alert: Alert }
  | { kind: "heartbeat"; sendTime: Timestamp | undefined }
  | { kind: "lost"; lostRecords: bigint; reason: string };

/** How to query. */
export interface QueryOptions extends CallOptions {
  /** The earliest record time, inclusive; unset: the oldest record stored. */
  start?: TimeLike;
  /** The record time to stop before, exclusive; unset: the newest record stored. */
  end?: TimeLike;
  /** The most records per page; 0: the hub's 1000. */
  pageSize?: number;
  /** Start after the page that returned this token. */
  pageToken?: string;
}

/** One page of a query: its records, the entities they reference, and how to go on. */
export interface QueryPage {
  /** The records, in time order. */
  records: Record[];
  /** The entities the records reference, as the hub sent them. */
  entities: Record[];
  /** The entities, indexed: `page.resolve.process(record)` is the record's process. */
  resolve: Entities;
  /** The token of the next page; empty on the last page. */
  nextPageToken: string;
  /** The stored records the hub read to fill the page. */
  scannedRecords: bigint;
}

/** A rules file to validate or put. */
export interface RulesFileInput {
  /** The file's name among those in force. */
  name: string;
  /** The file's YAML text. */
  content: string;
}

/** Options shared by every client. */
export interface ClientOptions {
  /** The hub: a base URL ("http://127.0.0.1:7700") or host:port (plaintext http). */
  baseUrl: string;
  /** A bearer token, sent as `authorization: Bearer <token>`. */
  token?: string;
  /** The deadline of unary calls and of each query page, in milliseconds; 0: none. Default 30 s. */
  timeoutMs?: number;
  /** More interceptors, run after the one that adds the token. */
  interceptors?: Interceptor[];
}

/** A hub's base URL from host:port or a URL, and its address for messages. */
export function normalizeBaseUrl(baseUrl: string): { baseUrl: string; address: string } {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(baseUrl) ? baseUrl : `http://${baseUrl}`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`not a hub address: ${JSON.stringify(baseUrl)} (want host:port or http://host:port)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new TypeError(`not a hub address: ${JSON.stringify(baseUrl)} (want an http or https URL)`);
  }
  return { baseUrl: url.replace(/\/+$/, ""), address: u.host };
}

function tokenInterceptor(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

function language(l: RecordFilter["language"]): FilterLanguage {
  if (l === undefined) return FilterLanguage.UNSPECIFIED;
  if (typeof l === "number") return l;
  switch (l) {
    case "falco":
      return FilterLanguage.FALCO;
    case "cel":
      return FilterLanguage.CEL;
  }
  throw new TypeError(`unknown filter language ${JSON.stringify(l)}: want "falco" or "cel"`);
}

function content(c: SubscribeOptions["content"]): SubscribeContent {
  switch (c) {
    case undefined:
    case "records":
      return SubscribeContent.RECORDS;
    case "alerts":
      return SubscribeContent.ALERTS;
    case "both":
      return SubscribeContent.RECORDS_AND_ALERTS;
  }
  throw new TypeError(`unknown subscription content ${JSON.stringify(c)}: want "records", "alerts" or "both"`);
}

function recordTypes(ts: RecordFilter["recordTypes"]): RecordType[] {
  return (ts ?? []).map(parseRecordType);
}

/**
 * A client of one hub, over any Connect transport. Create one with `createClient` from
 * "@sysflux/client" (Node.js) or "@sysflux/client/browser".
 */
export class SysfluxClient {
  /** The hub's address, host:port, as errors name it. */
  readonly address: string;
  /** The generated HubService client, for what the wrapper does not cover. */
  readonly hub: Client<typeof HubService>;
  /** The generated PolicyService client. */
  readonly policy: Client<typeof PolicyService>;
  private readonly tokenSent: boolean;
  private readonly timeoutMs: number | undefined;

  constructor(transport: Transport, opts: { address: string; token?: string; timeoutMs?: number }) {
    this.address = opts.address;
    this.hub = createConnectClient(HubService, transport);
    this.policy = createConnectClient(PolicyService, transport);
    this.tokenSent = opts.token !== undefined && opts.token !== "";
    this.timeoutMs = opts.timeoutMs === undefined ? 30_000 : opts.timeoutMs > 0 ? opts.timeoutMs : undefined;
  }

  /** The interceptors a transport should run for these options: the token first. */
  static interceptors(opts: ClientOptions): Interceptor[] {
    return [...(opts.token ? [tokenInterceptor(opts.token)] : []), ...(opts.interceptors ?? [])];
  }

  private ctx(op: string, filter?: string): CallContext {
    return { address: this.address, op, tokenSent: this.tokenSent, ...(filter !== undefined ? { filter } : {}) };
  }

  private async unary<T>(op: string, opts: CallOptions | undefined, call: (o: { signal?: AbortSignal; timeoutMs?: number }) => Promise<T>): Promise<T> {
    try {
      return await call({ signal: opts?.signal, timeoutMs: opts?.timeoutMs ?? this.timeoutMs });
    } catch (e) {
      throw toSysfluxError(e, this.ctx(op));
    }
  }

  /**
   * Subscribes to records and/or alerts. The iterable yields one item per record, alert,
   * heartbeat or lost-records notice, until `signal` aborts or the loop stops (break, return,
   * throw), which cancels the stream; it ends quietly then. Errors are SysfluxErrors: a filter
   * that does not compile is a FilterError.
   */
  async *subscribe(filter: RecordFilter = {}, opts: SubscribeOptions = {}): AsyncGenerator<SubscribeItem, void, undefined> {
    const req = create(SubscribeRequestSchema, {
      recordTypes: recordTypes(filter.recordTypes),
      nodeIds: [...(filter.nodeIds ?? [])],
      filter: filter.filter ?? "",
      filterLanguage: language(filter.language),
      fromOldest: opts.fromOldest ?? false,
      resumeAfter: (opts.resumeAfter ?? []).map((p) => create(PositionSchema, p)),
      content: content(opts.content),
      opFlags: opts.opFlags ?? 0,
    });
    if (opts.heartbeatIntervalMs !== undefined && opts.heartbeatIntervalMs > 0) {
      req.heartbeatInterval = durationFromMs(opts.heartbeatIntervalMs);
    }
    const ctx = this.ctx("subscribe", req.filter);
    const abort = new AbortController();
    const user = opts.signal;
    if (user?.aborted) return;
    const onAbort = () => abort.abort(user?.reason);
    user?.addEventListener("abort", onAbort, { once: true });
    try {
      const stream = this.hub.subscribe(req, { signal: abort.signal, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
      for await (const res of stream) {
        // Once cancelled, nothing more: not a message already received, nor the rest of a batch.
        if (abort.signal.aborted) return;
        const item = res.item;
        switch (item.case) {
          case "batch":
            for (const record of item.value.records) {
              if (abort.signal.aborted) return;
              yield { kind: "record", record };
            }
            break;
          case "alert":
            yield { kind: "alert", alert: item.value };
            break;
          case "heartbeat":
            yield { kind: "heartbeat", sendTime: item.value.sendTime };
            break;
          case "lost":
            yield { kind: "lost", lostRecords: item.value.lostRecords, reason: item.value.reason };
            break;
        }
      }
    } catch (e) {
      if (abort.signal.aborted) return;
      throw toSysfluxError(e, ctx);
    } finally {
      user?.removeEventListener("abort", onAbort);
      abort.abort();
    }
  }

  /**
   * Queries stored records page by page. Each page comes with the entities its records
   * reference, indexed in `resolve`. Ends after the last page, or quietly when `signal` aborts.
   */
  async *queryPages(filter: RecordFilter = {}, opts: QueryOptions = {}): AsyncGenerator<QueryPage, void, undefined> {
    const req = create(QueryRequestSchema, {
      recordTypes: recordTypes(filter.recordTypes),
      nodeIds: [...(filter.nodeIds ?? [])],
      filter: filter.filter ?? "",
      filterLanguage: language(filter.language),
      pageSize: opts.pageSize ?? 0,
      pageToken: opts.pageToken ?? "",
    });
    if (opts.start !== undefined) req.startTime = toTimestamp(opts.start);
    if (opts.end !== undefined) req.endTime = toTimestamp(opts.end);
    const ctx = this.ctx("query", req.filter);
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    for (;;) {
      if (opts.signal?.aborted) return;
      let res;
      try {
        res = await this.hub.query(req, { signal: opts.signal, timeoutMs });
      } catch (e) {
        if (opts.signal?.aborted) return;
        throw toSysfluxError(e, ctx);
      }
      yield {
        records: res.records,
        entities: res.entities,
        resolve: new Entities(res.entities),
        nextPageToken: res.nextPageToken,
        scannedRecords: res.scannedRecords,
      };
      if (res.nextPageToken === "") return;
      req.pageToken = res.nextPageToken;
    }
  }

  /** Queries stored records, paging transparently: yields every record of every page in time order. */
  async *query(filter: RecordFilter = {}, opts: QueryOptions = {}): AsyncGenerator<Record, void, undefined> {
    for await (const page of this.queryPages(filter, opts)) yield* page.records;
  }

  /** The agents the hub reads from and how far it has read each. */
  async listAgents(opts?: CallOptions): Promise<AgentStatus[]> {
    const res = await this.unary("list agents", opts, (o) => this.hub.listAgents({}, o));
    return res.agents;
  }

  /**
   * Puts a rules file in force under `name` (replacing a file of that name, else added after
   * the others; with replaceAll, replacing every file). A file that does not compile is a
   * RulesError naming the file, line and column; a token without the admin scope a
   * PermissionDeniedError.
   */
  pushRulesContent(name: string, content: string, opts: CallOptions & { replaceAll?: boolean } = {}): Promise<PutRulesResponse> {
    return this.putRules([{ name, content }], opts);
  }

  /** Puts several rules files in force at once, in load order. */
  putRules(files: readonly RulesFileInput[], opts: CallOptions & { replaceAll?: boolean } = {}): Promise<PutRulesResponse> {
    return this.unary("push rules", opts, (o) =>
      this.policy.putRules({ files: files.map((f) => ({ name: f.name, content: f.content })), replaceAll: opts.replaceAll ?? false }, o),
    );
  }

  /** Removes rules files by name; a name not in force fails with NOT_FOUND, changing nothing. */
  deleteRules(names: string | readonly string[], opts?: CallOptions): Promise<DeleteRulesResponse> {
    const list = typeof names === "string" ? [names] : [...names];
    return this.unary("delete rules", opts, (o) => this.policy.deleteRules({ names: list }, o));
  }

  /** The rules files in force, their version, and what each rule became. */
  listRules(opts: CallOptions & { includeContent?: boolean } = {}): Promise<ListRulesResponse> {
    return this.unary("list rules", opts, (o) => this.policy.listRules({ includeContent: opts.includeContent ?? false }, o));
  }

  /**
   * Compiles rules files without putting them in force. Files that do not compile are no
   * error: the response lists the problems (an empty `errors` means they compile).
   */
  validateRules(files: readonly RulesFileInput[], opts: CallOptions & { includeActive?: boolean } = {}): Promise<ValidateRulesResponse> {
    return this.unary("validate rules", opts, (o) =>
      this.policy.validateRules({ files: files.map((f) => ({ name: f.name, content: f.content })), includeActive: opts.includeActive ?? false }, o),
    );
  }

  /** Releases the client's connections; a no-op where the transport keeps none. */
  close(): void {}
}

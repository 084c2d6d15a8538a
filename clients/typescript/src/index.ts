// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// The Node.js entry point: clients over gRPC (HTTP/2), Connect or gRPC-Web, with connect-node.

import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import type { Transport } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import type * as http2 from "node:http2";
import type * as https from "node:https";
import { SysfluxClient, normalizeBaseUrl, type CallOptions, type ClientOptions, type Protocol } from "./client.js";
import type { PutRulesResponse } from "./gen/sysflux/policy/v1/policy_service_pb.js";

export * from "./shared.js";

/** Options of a Node.js client. */
export interface NodeClientOptions extends ClientOptions {
  /** The protocol: "grpc" (the default), "connect" or "grpc-web". */
  protocol?: Protocol;
  /** The HTTP version: "2" (the default for gRPC, which needs it; cleartext HTTP/2 for http URLs)
   * or "1.1" (the default for Connect and gRPC-Web). */
  httpVersion?: "1.1" | "2";
  /** Send protobuf rather than JSON (Connect and gRPC-Web); default true. */
  useBinaryFormat?: boolean;
  /** TLS and socket options (e.g. `ca`) for node:http2's connect() or node:https's request(). */
  nodeOptions?: http2.SecureClientSessionOptions & https.RequestOptions;
}

/** A client of one hub from Node.js: the shared client, plus pushing rules files from disk. */
export class NodeSysfluxClient extends SysfluxClient {
  private readonly session: Http2SessionManager | undefined;

  constructor(transport: Transport, opts: { address: string; token?: string; timeoutMs?: number; session?: Http2SessionManager }) {
    super(transport, opts);
    this.session = opts.session;
  }

  /**
   * Reads a Falco rules file and puts it in force under `name` (default: the file's base name).
   * A file that does not compile is a RulesError naming the file and the line.
   */
  async pushRules(path: string, opts: CallOptions & { name?: string; replaceAll?: boolean } = {}): Promise<PutRulesResponse> {
    const content = await readFile(path, "utf8");
    return this.pushRulesContent(opts.name ?? basename(path), content, opts);
  }

  /** Closes the HTTP/2 connection, if any; calls in flight fail. */
  override close(): void {
    this.session?.abort();
  }
}

/**
 * Creates a client of the hub at `baseUrl` ("http://host:port" or "host:port").
 *
 *     const hub = createClient({ baseUrl: "127.0.0.1:7700", token: process.env.SYSFLUX_TOKEN });
 *     for await (const r of hub.query({ recordTypes: ["process_event"] })) console.log(r.seq);
 */
export function createClient(opts: NodeClientOptions): NodeSysfluxClient {
  const { baseUrl, address } = normalizeBaseUrl(opts.baseUrl);
  const protocol = opts.protocol ?? "grpc";
  const httpVersion = opts.httpVersion ?? (protocol === "grpc" ? "2" : "1.1");
  if (protocol === "grpc" && httpVersion !== "2") {
    throw new TypeError('the gRPC protocol needs HTTP/2: use httpVersion "2", or protocol "connect" or "grpc-web"');
  }
  const interceptors = SysfluxClient.interceptors(opts);
  const common = { baseUrl, interceptors, useBinaryFormat: opts.useBinaryFormat ?? true };
  let session: Http2SessionManager | undefined;
  let transport: Transport;
  if (httpVersion === "2") {
    session = new Http2SessionManager(baseUrl, {}, opts.nodeOptions);
    const o = { ...common, httpVersion: "2" as const, sessionManager: session };
    transport = protocol === "grpc" ? createGrpcTransport(o) : protocol === "connect" ? createConnectTransport(o) : createGrpcWebTransport(o);
  } else {
    const o = { ...common, httpVersion: "1.1" as const, ...(opts.nodeOptions ? { nodeOptions: opts.nodeOptions } : {}) };
    if (protocol === "connect") transport = createConnectTransport(o);
    else if (protocol === "grpc-web") transport = createGrpcWebTransport(o);
    else throw new TypeError(`unknown protocol ${JSON.stringify(protocol)}: want "grpc", "connect" or "grpc-web"`);
  }
  return new NodeSysfluxClient(transport, { address, token: opts.token, timeoutMs: opts.timeoutMs, session });
}

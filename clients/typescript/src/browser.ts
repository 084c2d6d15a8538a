// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// The browser entry point: clients over Connect or gRPC-Web, with fetch (connect-web). The hub
// must allow the page's origin (hub --cors-origin).

import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { SysfluxClient, normalizeBaseUrl, type ClientOptions } from "./client.js";

export * from "./shared.js";

/** Options of a browser client. */
export interface BrowserClientOptions extends ClientOptions {
  /** The protocol: "connect" (the default) or "grpc-web"; browsers cannot speak gRPC. */
  protocol?: "connect" | "grpc-web";
  /** Send protobuf rather than JSON; default true. */
  useBinaryFormat?: boolean;
  /** The fetch function to use; default globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
}

/**
 * Creates a client of the hub at `baseUrl` for a web page.
 *
 *     const hub = createClient({ baseUrl: "http://127.0.0.1:7700", token });
 *     for await (const r of hub.query({ recordTypes: ["process_event"] })) console.log(r.seq);
 */
export function createClient(opts: BrowserClientOptions): SysfluxClient {
  const { baseUrl, address } = normalizeBaseUrl(opts.baseUrl);
  const protocol = opts.protocol ?? "connect";
  const o = {
    baseUrl,
    interceptors: SysfluxClient.interceptors(opts),
    useBinaryFormat: opts.useBinaryFormat ?? true,
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  };
  let transport: Transport;
  if (protocol === "connect") transport = createConnectTransport(o);
  else if (protocol === "grpc-web") transport = createGrpcWebTransport(o);
  else throw new TypeError(`protocol ${JSON.stringify(protocol)} does not work in browsers: want "connect" or "grpc-web"`);
  return new SysfluxClient(transport, { address, token: opts.token, timeoutMs: opts.timeoutMs });
}

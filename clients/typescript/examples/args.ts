// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Command-line options the examples share: where the hub is and how to authenticate.

import type { NodeClientOptions } from "../src/index.js";

/** The options of every example, for node:util's parseArgs. */
export const commonOptions = {
  hub: { type: "string", default: "127.0.0.1:7700" },
  token: { type: "string" },
  protocol: { type: "string", default: "grpc" },
  help: { type: "boolean", short: "h", default: false },
} as const;

export const commonUsage =
  "  --hub ADDR         the hub, host:port or URL (default 127.0.0.1:7700)\n" +
  "  --token TOKEN      a bearer token (default $SYSFLUX_TOKEN)\n" +
  "  --protocol NAME    grpc (default), connect or grpc-web";

/** The client options from --hub, --token (default $SYSFLUX_TOKEN) and --protocol. */
export function clientOptions(values: { hub: string; token?: string; protocol: string }): NodeClientOptions {
  const { protocol } = values;
  if (protocol !== "grpc" && protocol !== "connect" && protocol !== "grpc-web") {
    throw new Error(`--protocol ${protocol}: want grpc, connect or grpc-web`);
  }
  return { baseUrl: values.hub, token: values.token ?? process.env.SYSFLUX_TOKEN, protocol };
}

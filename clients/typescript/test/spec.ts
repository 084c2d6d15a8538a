// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// The live tests' spec: where the hub is and what it must answer, from the JSON file named by
// SYSFLUX_CLIENT_SPEC, which `go test ./clients` writes.

import { readFileSync } from "node:fs";

export interface Spec {
  hub: string;
  hub_url: string;
  tokens: { read: string; admin: string };
  unreachable: string;
  node: string;
  agent_id: string;
  records: number;
  subscribe: { filter: string; record_types: string[]; node_ids: string[]; expected_seqs: number[] };
  query: {
    start_time: string;
    end_time: string;
    record_types: string[];
    node_ids: string[];
    page_size: number;
    expected_seqs: number[];
    min_pages: number;
  };
  bad_filter: { filter: string; line: number; column: number; message: string };
  rules: {
    base_rule: string;
    base_alerts: number;
    push_path: string;
    push_rule: string;
    push_alerts: number;
    bad_path: string;
    bad_line: number;
  };
  replay_url: string;
  browser_origin: string;
}

/** Why the live tests skip: how to run them. */
export const HOW_TO_RUN =
  "SYSFLUX_CLIENT_SPEC is not set: the live tests run against a real hub, from `go test ./clients` " +
  "(make test), or by hand: `SYSFLUX_CLIENTS_HOLD=/tmp/spec.json go test ./clients -run 'TestClients$' -timeout 0 -v` " +
  "in the repository root, then `SYSFLUX_CLIENT_SPEC=/tmp/spec.json npm test` here";

/** The spec, or undefined when SYSFLUX_CLIENT_SPEC is unset. */
export function loadSpec(): Spec | undefined {
  const path = process.env.SYSFLUX_CLIENT_SPEC;
  if (!path) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as Spec;
}

/** Starts a new agent replaying the trace, and returns once the hub has all its records. */
export async function replay(url: string, timeoutMs = 120_000): Promise<{ agent_id: string; node_id: string; records: number }> {
  const res = await fetch(url, { method: "POST", signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  if (!res.ok) throw new Error(`replay: ${res.status} ${res.statusText}: ${body}`);
  return JSON.parse(body) as { agent_id: string; node_id: string; records: number };
}

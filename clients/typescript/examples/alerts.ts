// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Prints the alerts a hub's rules raise, live, until interrupted (or --count alerts arrived).
//
//   node dist/examples/alerts.js --hub 127.0.0.1:7700 --token "$SYSFLUX_TOKEN"

import { parseArgs } from "node:util";
import { SysfluxError, createClient, timestampDate } from "../src/index.js";
import { clientOptions, commonOptions, commonUsage } from "./args.js";

const { values } = parseArgs({ options: { ...commonOptions, count: { type: "string" } } });
if (values.help) {
  console.log(`usage: alerts [options]\n${commonUsage}\n  --count N          stop after N alerts`);
  process.exit(0);
}
const count = values.count === undefined ? Infinity : Number(values.count);

const hub = createClient(clientOptions(values));
const stop = new AbortController();
process.once("SIGINT", () => stop.abort());

let n = 0;
try {
  for await (const item of hub.subscribe({}, { content: "alerts", heartbeatIntervalMs: 5000, signal: stop.signal })) {
    if (item.kind !== "alert") continue;
    const a = item.alert;
    const time = a.time ? timestampDate(a.time).toISOString() : "-";
    console.log(`${time} ${a.priority.padEnd(8)} ${a.rule} [${a.hostname}] ${a.output}`);
    if (++n >= count) break;
  }
} catch (e) {
  // SysfluxErrors say what went wrong in one line: no stack needed.
  console.error(e instanceof SysfluxError ? `alerts: ${e.message}` : e);
  process.exitCode = 1;
} finally {
  hub.close();
}

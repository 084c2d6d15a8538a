// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Prints the alerts a hub's rules raise, live, until interrupted (or --count alerts arrived).
//
//   node dist/examples/alerts.js --hub 127.0.0.1:7700 --token "$SYSFLUX_TOKEN"

import { parseArgs } from "node:util";
import { SysfluxError, createClient, timestampDate } from "../src/index.js";
import { clientOptions, commonOptions, commonUsage } from "./args.js";

const { values } = parseArgs({ options: { ...commonOptions, count: { type: "string" }, heartbeat: { type: "string", default: "5" } } });
if (values.help) {
  console.log(
    `usage: alerts [options]\n${commonUsage}\n` +
      "  --count N          stop after N alerts\n" +
      "  --heartbeat S      the seconds of quiet after which the hub sends a heartbeat (default 5)",
  );
  process.exit(0);
}
const count = values.count === undefined ? Infinity : Number(values.count);
const heartbeat = Number(values.heartbeat);
if (!(heartbeat > 0)) {
  console.error(`alerts: --heartbeat ${values.heartbeat}: want a number of seconds above 0`);
  process.exit(2);
}

const hub = createClient(clientOptions(values));
const stop = new AbortController();
process.once("SIGINT", () => stop.abort());

let n = 0;
let subscribed = false;
try {
  const opts = { content: "alerts", heartbeatIntervalMs: heartbeat * 1000, signal: stop.signal } as const;
  for await (const item of hub.subscribe({}, opts)) {
    if (item.kind === "heartbeat" && !subscribed) {
      // The first heartbeat shows the hub has the subscription: alerts raised from now on come.
      subscribed = true;
      console.error(`alerts: subscribed to the sysflux hub at ${hub.address}; waiting for alerts`);
    }
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

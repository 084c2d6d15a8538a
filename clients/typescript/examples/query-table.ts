// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Loads the records of a Query into rows, one object per record with its process resolved from
// the page's entities, and prints them as a table.
//
//   node dist/examples/query-table.js --hub 127.0.0.1:7700 --types process_event --limit 20 \
//     --filter 'proc.name = sh'

import { parseArgs } from "node:util";
import { SysfluxError, createClient, nanosToRfc3339, operationNames, recordTime, recordTypeName, type QueryPage, type Record } from "../src/index.js";
import { clientOptions, commonOptions, commonUsage } from "./args.js";

const { values } = parseArgs({
  options: {
    ...commonOptions,
    start: { type: "string" },
    end: { type: "string" },
    types: { type: "string", default: "process_event" },
    node: { type: "string", multiple: true, default: [] },
    filter: { type: "string", default: "" },
    limit: { type: "string", default: "20" },
    json: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    `usage: query-table [options]\n${commonUsage}\n` +
      "  --start TIME       the earliest record time, RFC 3339 (default: the oldest stored)\n" +
      "  --end TIME         the time to stop before (default: the newest stored)\n" +
      "  --types T,T        record types (default process_event)\n" +
      "  --node NODE        a node to query (repeatable; default all)\n" +
      "  --filter COND      a Falco condition\n" +
      "  --limit N          the most rows (default 20)\n" +
      "  --json             print the rows as JSON rather than a table",
  );
  process.exit(0);
}

/** One row per record: the record's own fields and its process's, resolved from the page. */
interface Row {
  time: string;
  node: string;
  seq: number;
  type: string;
  op: string;
  pid: number | undefined;
  exe: string;
  args: string;
  user: string;
  container: string;
}

function toRow(page: QueryPage, r: Record): Row {
  const t = recordTime(r);
  const proc = page.resolve.process(r);
  const v = r.rec.value;
  return {
    time: t === undefined ? "" : nanosToRfc3339(t),
    node: r.nodeId,
    seq: Number(r.seq),
    type: recordTypeName(r),
    op: v !== undefined && "opFlags" in v ? operationNames(v.opFlags).join("|") : "",
    pid: proc?.oid ? Number(proc.oid.hpid) : undefined,
    exe: proc?.exe ?? "",
    args: proc?.exeArgs ?? "",
    user: proc?.userName ?? "",
    container: page.resolve.container(r)?.name ?? proc?.containerId ?? "",
  };
}

const limit = Number(values.limit);
const hub = createClient(clientOptions(values));
const stop = new AbortController();
process.once("SIGINT", () => stop.abort());
const rows: Row[] = [];
try {
  pages: for await (const page of hub.queryPages(
    { recordTypes: values.types.split(","), nodeIds: values.node, filter: values.filter },
    {
      start: values.start,
      end: values.end,
      pageSize: Math.min(limit, 1000),
      signal: stop.signal,
    },
  )) {
    for (const r of page.records) {
      rows.push(toRow(page, r));
      if (rows.length >= limit) break pages; // stops paging: no further page is asked for
    }
  }
  if (values.json) console.log(JSON.stringify(rows));
  else console.table(rows);
} catch (e) {
  console.error(e instanceof SysfluxError ? `query-table: ${e.message}` : e);
  process.exitCode = 1;
} finally {
  hub.close();
}

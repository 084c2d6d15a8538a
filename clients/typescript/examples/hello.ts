// Prints the shells a sysflux hub has seen start, and those that start from now on.
import { createClient } from "@sysflux/client";

const hub = createClient({ baseUrl: process.env.SYSFLUX_HUB ?? "", token: process.env.SYSFLUX_TOKEN });
const shells = { filter: "evt.type = execve and proc.name = sh", recordTypes: ["process_event"] };
for await (const item of hub.subscribe(shells, { fromOldest: true })) {
  const rec = item.kind === "record" ? item.record : undefined; // or an alert, a heartbeat
  if (rec?.rec.case === "processEvent") console.log(rec.nodeId, rec.seq, "pid", rec.rec.value.procOid?.hpid);
}

"""Print the shells a sysflux hub has seen start, and those that start from now on."""
import os
import sysflux

with sysflux.Client(os.environ["SYSFLUX_HUB"], token=os.environ["SYSFLUX_TOKEN"]) as hub:
    with hub.subscribe("evt.type = execve and proc.name = sh", record_types=["process_event"], from_oldest=True) as sub:
        for item in sub:  # records, and heartbeats while nothing matches
            if isinstance(item, sysflux.Record):
                print(item.node_id, item.seq, "pid", item.process_event.proc_oid.hpid)

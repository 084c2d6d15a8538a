#!/usr/bin/env python3
"""Load the records a sysflux hub stores into rows, for a notebook or a spreadsheet.

    examples/query_rows.py --hub 127.0.0.1:7700 --token "$TOKEN" \\
        --start 2022-03-17T19:14:38Z --end 2022-03-17T19:14:52Z --types process_event,network_flow

In a notebook:

    import sys; sys.path.append("clients/python/examples")
    from query_rows import query_rows
    df = query_rows(sysflux.Client(hub, token=token), start=..., end=..., types=["process_event"])

query_rows returns one row per record (a dict), with the fields of the record's process resolved
from the entities of the record's page: a pandas DataFrame when pandas is importable, else a
list of dicts. The command line prints the rows as CSV.
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import struct
import sys
from typing import Any, Dict, Iterable, List, Optional, Sequence

try:
    import sysflux
except ImportError:  # run from a checkout: the package is next to this directory
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import sysflux

#: The columns of a row, in order.
COLUMNS = [
    "time", "node", "agent", "seq", "type", "op", "ret",
    "pid", "tid", "proc_exe", "proc_args", "proc_name", "user", "uid", "cwd", "container", "file", "sip", "sport", "dip", "dport", "proto",
    "read_bytes", "write_bytes",
]


def ipv4(packed: int) -> str:
    """An IPv4 address as SysFlow stores it (network-order bytes read as a little-endian int)."""
    return socket.inet_ntoa(struct.pack("<i", packed))


def row(record: sysflux.Record, page: sysflux.QueryPage) -> Dict[str, Any]:
    """One row for a record of a page."""
    kind = sysflux.record_kind(record)
    body = getattr(record, kind) if kind else None
    r: Dict[str, Any] = dict.fromkeys(COLUMNS)
    r.update(
        time=sysflux.format_rfc3339(sysflux.record_time_ns(record)),
        node=record.node_id,
        agent=record.agent_id,
        seq=record.seq,
        type=kind,
    )
    if body is None:
        return r
    fields = type(body).DESCRIPTOR.fields_by_name
    if "op_flags" in fields:
        r["op"] = "|".join(sysflux.op_flags_names(body.op_flags))
    for name in ("ret", "tid"):
        if name in fields:
            r[name] = getattr(body, name)
    proc = page.process_of(record)
    if proc is not None:
        r.update(
            pid=proc.oid.hpid,
            proc_exe=proc.exe,
            proc_args=proc.exe_args,
            proc_name=os.path.basename(proc.exe),
            user=proc.user_name,
            uid=proc.uid,
            cwd=proc.cwd,
            container=proc.container_id if proc.HasField("container_id") else None,
        )
    f = page.file_of(record)
    if f is not None:
        r["file"] = f.path
    if kind in ("network_flow", "network_event"):
        r.update(
            sip=ipv4(body.sip) if body.sip else (socket.inet_ntop(socket.AF_INET6, body.sip6) if body.sip6 else None),
            dip=ipv4(body.dip) if body.dip else (socket.inet_ntop(socket.AF_INET6, body.dip6) if body.dip6 else None),
            sport=body.sport,
            dport=body.dport,
            proto=body.proto,
        )
    if "num_r_recv_bytes" in fields:
        r["read_bytes"] = body.num_r_recv_bytes
        r["write_bytes"] = body.num_w_send_bytes
    return r


def rows(pages: Iterable[sysflux.QueryPage], limit: int = 0) -> List[Dict[str, Any]]:
    """The rows of the records of pages, at most limit of them if limit > 0."""
    out: List[Dict[str, Any]] = []
    for page in pages:
        for record in page.records:
            out.append(row(record, page))
            if limit and len(out) >= limit:
                return out
    return out


def query_rows(
    client: sysflux.Client,
    filter: str = "",
    *,
    start: Optional[sysflux.records.TimeLike] = None,
    end: Optional[sysflux.records.TimeLike] = None,
    types: Sequence[str] = (),
    nodes: Sequence[str] = (),
    limit: int = 0,
    dataframe: bool = True,
) -> Any:
    """The rows of the records a query returns: a pandas DataFrame when pandas is importable
    (and dataframe is true), else a list of dicts."""
    data = rows(client.query_pages(filter, start=start, end=end, record_types=types, node_ids=nodes), limit)
    if dataframe:
        try:
            import pandas as pd
        except ImportError:
            return data
        df = pd.DataFrame(data, columns=COLUMNS)
        df["time"] = pd.to_datetime(df["time"])
        return df
    return data


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Print the records a sysflux hub stores as CSV rows.")
    p.add_argument("--hub", default=os.environ.get("SYSFLUX_HUB", "127.0.0.1:7700"),
                   help="the hub's API address, host:port or http(s)://host:port (default $SYSFLUX_HUB or %(default)s)")
    p.add_argument("--token", default=os.environ.get("SYSFLUX_TOKEN"), help="the bearer token (default $SYSFLUX_TOKEN)")
    p.add_argument("--ca", help="connect over TLS, verifying the hub's certificate with this PEM CA")
    p.add_argument("--filter", default="", help="a Falco condition the records must meet")
    p.add_argument("--start", help="the earliest record time, RFC 3339 (inclusive)")
    p.add_argument("--end", help="the record time to stop before, RFC 3339 (exclusive)")
    p.add_argument("--types", default="", help="record types, comma-separated (process_event,network_flow...)")
    p.add_argument("--nodes", default="", help="node ids, comma-separated")
    p.add_argument("--limit", type=int, default=1000, help="the most rows (0: all; default %(default)s)")
    args = p.parse_args(argv)
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    try:
        with sysflux.Client(args.hub, token=args.token or None, root_certificates=args.ca) as client:
            data = query_rows(client, args.filter, start=args.start, end=args.end, types=split(args.types),
                              nodes=split(args.nodes), limit=args.limit, dataframe=False)
    except (sysflux.SysfluxError, ValueError) as e:
        print(e, file=sys.stderr)
        if isinstance(e, sysflux.Unauthenticated):
            print("pass the token with --token or SYSFLUX_TOKEN", file=sys.stderr)
        return 1
    w = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
    w.writeheader()
    w.writerows(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Print the alerts of a sysflux hub's rules as they are raised, as Falco prints them.

    examples/alerts.py --hub 127.0.0.1:7700 --token "$TOKEN"
    SYSFLUX_TOKEN=... examples/alerts.py --hub https://hub.example:7700 --ca ca.pem --json

Each alert is printed on one line: Falco's text output ("time: Priority message"), or with
--json Falco's JSON output. Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional, Sequence, TextIO

try:
    import sysflux
except ImportError:  # run from a checkout: the package is next to this directory
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import sysflux


def format_alert(alert: sysflux.Alert, as_json: bool = False) -> str:
    """One line for an alert: Falco's text output, or its JSON output."""
    if as_json:
        return json.dumps(alert.to_falco_json(), sort_keys=True)
    return alert.output


def watch(client: sysflux.Client, out: TextIO, *, as_json: bool = False, limit: int = 0) -> int:
    """Prints alerts as they come; returns how many were printed (stops after limit if > 0)."""
    printed = 0
    with client.subscribe(content="alerts", heartbeat=30) as sub:
        for item in sub:
            if isinstance(item, sysflux.Alert):
                print(format_alert(item, as_json), file=out, flush=True)
                printed += 1
                if limit and printed >= limit:
                    break
            elif isinstance(item, sysflux.RecordsLost):
                print("sysflux: %d alerts lost: %s" % (item.count, item.reason), file=sys.stderr)
    return printed


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Print a sysflux hub's alerts as Falco does.")
    p.add_argument("--hub", default=os.environ.get("SYSFLUX_HUB", "127.0.0.1:7700"),
                   help="the hub's API address, host:port or http(s)://host:port (default $SYSFLUX_HUB or %(default)s)")
    p.add_argument("--token", default=os.environ.get("SYSFLUX_TOKEN"),
                   help="the bearer token (default $SYSFLUX_TOKEN)")
    p.add_argument("--ca", help="connect over TLS, verifying the hub's certificate with this PEM CA")
    p.add_argument("--json", action="store_true", help="print Falco's JSON output rather than its text")
    p.add_argument("--limit", type=int, default=0, help="stop after this many alerts (default: never)")
    args = p.parse_args(argv)
    try:
        with sysflux.Client(args.hub, token=args.token or None, root_certificates=args.ca) as client:
            watch(client, sys.stdout, as_json=args.json, limit=args.limit)
    except sysflux.SysfluxError as e:
        print(e, file=sys.stderr)
        if isinstance(e, sysflux.Unauthenticated):
            print("pass the token with --token or SYSFLUX_TOKEN", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

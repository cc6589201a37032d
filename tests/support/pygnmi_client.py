"""Run pygnmi in a process of its own and print what it got as JSON.

pygnmi ships its own generated gNMI modules, which register the same protobuf symbols as
ours; the two cannot live in one process. So the tests run this third-party client the way
an operator would: as a separate program.

    python tests/support/pygnmi_client.py HOST:PORT get PATH... [--encoding json_ietf]
    python tests/support/pygnmi_client.py HOST:PORT once PATH... [--encoding proto]
"""

from __future__ import annotations

import argparse
import json
import sys

from pygnmi.client import gNMIclient


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("mode", choices=("get", "once"))
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--encoding", default="json_ietf")
    parser.add_argument("--timeout", type=int, default=5)
    args = parser.parse_args()
    host, port = args.address.rsplit(":", 1)
    with gNMIclient(target=(host, int(port)), insecure=True, gnmi_timeout=args.timeout) as client:
        if args.mode == "get":
            result: object = client.get(path=args.paths, encoding=args.encoding)
        else:
            subscription = {
                "subscription": [{"path": p, "mode": "target_defined"} for p in args.paths],
                "mode": "once",
                "encoding": args.encoding,
            }
            result = []
            for response in client.subscribe2(subscribe=subscription):
                result.append(response)  # type: ignore[attr-defined]
                if response.get("sync_response"):
                    break
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

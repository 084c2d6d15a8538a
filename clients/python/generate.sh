#!/usr/bin/env bash
# Regenerates the protobuf and gRPC modules of the sysflux Python client from proto/.
#
# Generation needs grpcio-tools 1.14.1 (Debian's python3-grpc-tools) and Go (for buf, pinned in
# tools.mod). The interpreter is $PYTHON when set, else the first of python3 and /usr/bin/python3
# that imports grpc_tools; generate.py refuses any other grpcio-tools version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-}
if [[ -z $py ]]; then
	for c in python3 /usr/bin/python3; do
		if command -v "$c" >/dev/null && "$c" -c 'import grpc_tools.protoc' 2>/dev/null; then
			py=$c
			break
		fi
	done
fi
if [[ -z $py ]]; then
	echo "generate.sh: no Python with grpc_tools found; install grpcio-tools 1.14.1 (Debian: python3-grpc-tools) or set PYTHON" >&2
	exit 1
fi
exec "$py" "$here/generate.py" "$@"

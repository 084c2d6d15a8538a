"""Tests of the sysflux Python client: offline ones, and live ones against a hub."""

import os
import unittest


def require_client() -> None:
    """Skips the calling test module when grpcio or protobuf cannot be imported, or fails when
    SYSFLUX_REQUIRE_TOOLS=1."""
    try:
        import grpc  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError as e:
        if os.environ.get("SYSFLUX_REQUIRE_TOOLS") == "1":
            raise
        raise unittest.SkipTest(
            "grpcio and protobuf are needed (%s); on Debian use /usr/bin/python3 with python3-grpcio" % e
        )

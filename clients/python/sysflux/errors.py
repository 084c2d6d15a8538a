"""The errors of the sysflux client.

Every error a call raises is a SysfluxError whose text says what went wrong in words, without
gRPC's transport details; the gRPC status code stays available as `code` (a grpc.StatusCode),
the hub's own message as `details`, and the gRPC error itself as `rpc_error`.

    SysfluxError
    ├── HubUnreachable      the hub could not be reached (UNAVAILABLE); names the address
    ├── Unauthenticated     the hub wants a (valid) token (UNAUTHENTICATED)
    ├── PermissionDenied    the token may not do this (PERMISSION_DENIED)
    ├── InvalidArgument     the hub refused the request (INVALID_ARGUMENT)
    │   ├── FilterError     a filter does not compile: message, line, column
    │   └── RulesError      rules files do not compile: file, line, column, message of each
    ├── NotFound            (NOT_FOUND), for example deleting rules that are not in force
    └── DeadlineExceeded    the call took longer than its timeout (DEADLINE_EXCEEDED)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

import grpc

from . import _status
from sysflux.policy.v1 import policy_service_pb2

RULES_ERRORS_TYPE = "sysflux.policy.v1.RulesErrors"


@dataclass(frozen=True)
class Problem:
    """One problem that keeps a filter or rules files from compiling."""

    #: The file the problem is in ("filter" for a filter), "" when unknown.
    file: str
    #: The line, from 1; 0 when unknown.
    line: int
    #: The column in characters, from 1; 0 when unknown.
    column: int
    #: What is wrong.
    message: str
    #: The kind of item the problem is in (rule, macro, list), "" when none.
    kind: str = ""
    #: The name of that item.
    name: str = ""

    def __str__(self) -> str:
        where = self.file or "?"
        if self.line:
            where += ":%d" % self.line
            if self.column:
                where += ":%d" % self.column
        item = "%s %r: " % (self.kind, self.name) if self.kind and self.name else ""
        return "%s: %s%s" % (where, item, self.message)

    @classmethod
    def from_proto(cls, e: policy_service_pb2.RulesError) -> "Problem":
        return cls(file=e.file, line=e.line, column=e.column, message=e.message, kind=e.kind, name=e.name)


class SysfluxError(Exception):
    """An error of a call to a hub."""

    #: The gRPC status code, None when the error did not come from a call.
    code: Optional[grpc.StatusCode]
    #: The hub's (or gRPC's) message.
    details: str
    #: The address of the hub.
    address: str
    #: The gRPC error this error stands for, if any.
    rpc_error: Optional[grpc.RpcError]

    def __init__(
        self,
        text: str,
        *,
        code: Optional[grpc.StatusCode] = None,
        details: str = "",
        address: str = "",
        rpc_error: Optional[grpc.RpcError] = None,
    ) -> None:
        super().__init__(text)
        self.code = code
        self.details = details
        self.address = address
        self.rpc_error = rpc_error

    @property
    def code_name(self) -> str:
        """The name of the status code, as in "PERMISSION_DENIED"; "" without a code."""
        return self.code.name if self.code is not None else ""


class HubUnreachable(SysfluxError):
    """The hub could not be reached at its address."""


class Unauthenticated(SysfluxError):
    """The hub wants a token, or does not know the one given."""


class PermissionDenied(SysfluxError):
    """The token is valid but may not make this call (a read token changing rules)."""


class InvalidArgument(SysfluxError):
    """The hub refused the request as invalid."""


class _Problems(InvalidArgument):
    """An InvalidArgument with compile problems, the first of which is also exposed directly."""

    problems: List[Problem]

    def __init__(self, text: str, problems: Sequence[Problem], **kw: Any) -> None:
        super().__init__(text, **kw)
        self.problems = list(problems)

    def _first(self) -> Problem:
        return self.problems[0] if self.problems else Problem("", 0, 0, self.details)

    @property
    def file(self) -> str:
        """The file of the first problem."""
        return self._first().file

    @property
    def line(self) -> int:
        """The line of the first problem, 0 when unknown."""
        return self._first().line

    @property
    def column(self) -> int:
        """The column of the first problem, 0 when unknown."""
        return self._first().column

    @property
    def message(self) -> str:
        """What is wrong, for the first problem."""
        return self._first().message


class FilterError(_Problems):
    """A filter does not compile. `message`, `line` and `column` locate the (first) problem;
    `problems` lists them all."""


class RulesError(_Problems):
    """Rules files do not compile. `problems` lists every problem found, each with its file,
    line, column and message; `file`, `line`, `column` and `message` are the first one's."""


class NotFound(SysfluxError):
    """What the call names does not exist."""


class DeadlineExceeded(SysfluxError):
    """The call did not finish within its timeout."""


def _problems(rpc_error: grpc.RpcError) -> Optional[List[Problem]]:
    trailers = None
    try:
        trailers = rpc_error.trailing_metadata()  # type: ignore[attr-defined]
    except Exception:
        pass
    st = _status.status_from_metadata(trailers)
    if st is None:
        return None
    data = st.find(RULES_ERRORS_TYPE)
    if data is None:
        return None
    try:
        detail = policy_service_pb2.RulesErrors.FromString(data)
    except Exception:
        return None
    return [Problem.from_proto(e) for e in detail.errors]


def _unreachable_reason(details: str) -> str:
    # gRPC says, for example, "failed to connect to all addresses; last error: UNKNOWN:
    # ipv4:127.0.0.1:9: Failed to connect to remote host: Connection refused".
    reason = details
    if "last error:" in reason:
        reason = reason.split("last error:", 1)[1].strip()
        for prefix in ("UNKNOWN: ", "UNAVAILABLE: "):
            if reason.startswith(prefix):
                reason = reason[len(prefix) :]
        if ": " in reason:
            reason = reason.rsplit(": ", 1)[1]
    return reason.strip() or "unavailable"


def from_rpc_error(
    rpc_error: grpc.RpcError,
    *,
    address: str,
    what: str,
    context: str = "",
    has_token: bool = False,
) -> SysfluxError:
    """The SysfluxError for a gRPC error of a call.

    what names the call for people ("Subscribe", "push the rules"); context is "filter" for calls
    whose INVALID_ARGUMENT means a filter that does not compile, "rules" for calls that compile
    rules files.
    """
    code: Optional[grpc.StatusCode] = None
    details = ""
    try:
        code = rpc_error.code()  # type: ignore[attr-defined]
        details = rpc_error.details() or ""  # type: ignore[attr-defined]
    except Exception:
        details = str(rpc_error)
    kw = dict(code=code, details=details, address=address, rpc_error=rpc_error)
    C = grpc.StatusCode
    if code == C.UNAVAILABLE:
        return HubUnreachable(
            "sysflux: could not reach the hub at %s: %s" % (address, _unreachable_reason(details)), **kw
        )
    if code == C.UNAUTHENTICATED:
        if has_token:
            text = "sysflux: the hub at %s does not accept the token given (UNAUTHENTICATED): %s" % (address, details)
        else:
            text = (
                "sysflux: the hub at %s wants a token (UNAUTHENTICATED): %s; give the client one with token=..."
                % (address, details)
            )
        return Unauthenticated(text, **kw)
    if code == C.PERMISSION_DENIED:
        return PermissionDenied(
            "sysflux: the token may not %s on the hub at %s (PERMISSION_DENIED): %s" % (what, address, details), **kw
        )
    if code == C.INVALID_ARGUMENT:
        problems = _problems(rpc_error)
        if context == "filter" and problems is not None:
            said = "; ".join(str(p) for p in problems) if problems else details
            return FilterError("sysflux: the filter does not compile: %s" % said, problems, **kw)
        if context == "rules" and problems is not None:
            lines = "\n".join("  " + str(p) for p in problems) or "  " + details
            n = len(problems)
            return RulesError(
                "sysflux: the rules do not compile (%d problem%s):\n%s" % (n, "" if n == 1 else "s", lines),
                problems,
                **kw,
            )
        return InvalidArgument("sysflux: %s: invalid request: %s" % (what, details), **kw)
    if code == C.NOT_FOUND:
        return NotFound("sysflux: %s: not found: %s" % (what, details), **kw)
    if code == C.DEADLINE_EXCEEDED:
        return DeadlineExceeded(
            "sysflux: %s: the hub at %s did not answer in time (DEADLINE_EXCEEDED)" % (what, address), **kw
        )
    name = code.name if code is not None else "UNKNOWN"
    return SysfluxError("sysflux: %s failed on the hub at %s (%s): %s" % (what, address, name, details), **kw)


__all__ = [
    "DeadlineExceeded",
    "FilterError",
    "HubUnreachable",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "Problem",
    "RulesError",
    "SysfluxError",
    "Unauthenticated",
    "from_rpc_error",
]

"""The sysflux hub client: Client and Subscription."""

from __future__ import annotations

import collections
import datetime as _dt
import os
import queue
import threading
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import grpc
from google.protobuf import duration_pb2

from sysflow.v1 import records_pb2
from sysflux.hub.v1 import hub_service_pb2, hub_service_pb2_grpc
from sysflux.policy.v1 import policy_service_pb2, policy_service_pb2_grpc

from . import errors
from .models import (
    Agent,
    Alert,
    Heartbeat,
    Position,
    PositionLike,
    QueryPage,
    RecordsLost,
    RulesChange,
    RulesState,
    SubscribeItem,
    Validation,
    position_proto,
    rules_files,
)
from .records import (
    RecordTypeLike,
    TimeLike,
    duration_seconds,
    parse_op_flags,
    parse_record_types,
    to_timestamp,
)

__version__ = "0.1.0"

Record = records_pb2.Record
PathLike = Union[str, "os.PathLike[str]"]

_LANGUAGES = {
    "falco": hub_service_pb2.FILTER_LANGUAGE_FALCO,
    "cel": hub_service_pb2.FILTER_LANGUAGE_CEL,
}
_CONTENTS = {
    "records": hub_service_pb2.SUBSCRIBE_CONTENT_RECORDS,
    "alerts": hub_service_pb2.SUBSCRIBE_CONTENT_ALERTS,
    "both": hub_service_pb2.SUBSCRIBE_CONTENT_RECORDS_AND_ALERTS,
}

# A page of a query may hold up to 10000 records and their entities: more than gRPC's default
# limit of 4 MiB.
_MAX_RECEIVE_BYTES = 256 << 20


def _language(value: str) -> int:
    try:
        return _LANGUAGES[value.lower()]
    except (KeyError, AttributeError):
        raise ValueError("language must be one of %s, not %r" % (", ".join(_LANGUAGES), value)) from None


def _content(value: str) -> int:
    try:
        return _CONTENTS[value.lower()]
    except (KeyError, AttributeError):
        raise ValueError("content must be one of %s, not %r" % (", ".join(_CONTENTS), value)) from None


def _strings(values: Union[str, Iterable[str], None], what: str) -> List[str]:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    out = list(values)
    for v in out:
        if not isinstance(v, str):
            raise TypeError("%s: expected strings, got %r" % (what, v))
    return out


def _parse_address(address: str) -> Tuple[str, Optional[bool]]:
    """The gRPC target of an address, and whether its scheme asks for TLS (None: no scheme)."""
    a = address.strip()
    tls: Optional[bool] = None
    for scheme, secure, port in (("http://", False, "80"), ("https://", True, "443")):
        if a.lower().startswith(scheme):
            a = a[len(scheme) :].rstrip("/")
            if "/" in a:
                raise ValueError("hub address %r: a path is not allowed" % address)
            tls = secure
            if a.startswith("["):  # [IPv6] or [IPv6]:port
                if a.endswith("]"):
                    a += ":" + port
            elif a and ":" not in a:
                a += ":" + port
            break
    if not a:
        raise ValueError("hub address %r has no host" % address)
    return a, tls


def _tls_hint(details: str, tls: bool, client_cert: bool) -> str:
    """A guess at a TLS mismatch behind a failed connection, for people; "" when none."""
    if not tls and "Socket closed" in details:
        return "does the hub serve TLS? use an https:// address or tls=True"
    if tls and "certificate verify failed" in details:
        return "the hub's certificate does not chain to root_certificates (default: the system's roots) or does not name the address"
    if tls and not client_cert and ("Endpoint read failed" in details or "certificate required" in details):
        return "does the hub want a client certificate? pass certificate_chain and private_key"
    if tls and ("wrong version number" in details or "WRONG_VERSION_NUMBER" in details):
        return "the hub does not serve TLS there: use an http:// address"
    return ""


def _read(value: Union[bytes, str, None], what: str) -> Optional[bytes]:
    """PEM bytes, given as bytes or as the path of a file."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    try:
        with open(value, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError("%s: cannot read %s: %s" % (what, value, e.strerror)) from None


class _End:
    pass


_END = _End()


class Subscription:
    """A live subscription: an iterator of records (sysflow.v1.Record), Alert, Heartbeat and
    RecordsLost items, in the hub's order; the records of a batch come one by one.

    Iterate it, or call get(timeout) to wait at most that long for the next item. An error of
    the stream (a filter that does not compile, a hub that cannot be reached) is raised as a
    SysfluxError by the read that meets it. close() (or cancel(), or leaving a with block) ends
    the stream: the iteration then stops without error. The subscription tracks the position of
    the last record received from each agent, to resume from with Client.subscribe(resume_after=
    sub.positions()).
    """

    def __init__(self, call: Any, translate: Callable[[grpc.RpcError], errors.SysfluxError], buffer: int = 64):
        self._call = call
        self._translate = translate
        self._queue: "queue.Queue[object]" = queue.Queue(maxsize=max(1, buffer))
        self._closed = threading.Event()
        self._pending: Deque[SubscribeItem] = collections.deque()
        self._done = False
        self._positions: Dict[str, Position] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, name="sysflux-subscription", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _pump(self) -> None:
        try:
            for resp in self._call:
                if not self._put(resp):
                    return
            self._put(_END)
        except grpc.RpcError as e:
            if self._closed.is_set():
                return
            code = getattr(e, "code", lambda: None)()
            # Only this side cancels a stream: close(), or the client's close().
            self._put(_END if code == grpc.StatusCode.CANCELLED else self._translate(e))
        except Exception as e:  # a bug or a decoding error: hand it to the reader
            self._put(e)

    def __iter__(self) -> "Subscription":
        return self

    def __next__(self) -> SubscribeItem:
        return self.get()

    def get(self, timeout: Optional[float] = None) -> SubscribeItem:
        """The next item, waiting at most timeout seconds (None: for ever).

        Raises StopIteration when the stream ended or was closed, TimeoutError when nothing came
        in time (the subscription goes on), and SysfluxError when the stream failed.
        """
        if self._closed.is_set():
            raise StopIteration
        if self._pending:
            return self._deliver(self._pending.popleft())
        if self._done:
            raise StopIteration
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("sysflux: no item from the subscription within %gs" % timeout) from None
        if item is _END or self._closed.is_set():
            self._done = True
            raise StopIteration
        if isinstance(item, BaseException):
            self._done = True
            raise item
        assert isinstance(item, hub_service_pb2.SubscribeResponse)
        kind = item.WhichOneof("item")
        if kind == "batch":
            records = item.batch.records
            if records:
                self._pending.extend(records)
                return self._deliver(self._pending.popleft())
            return self.get(timeout)
        if kind == "alert":
            return Alert.from_proto(item.alert)
        if kind == "heartbeat":
            hb = item.heartbeat.send_time
            return Heartbeat(send_time_ns=hb.seconds * 1_000_000_000 + hb.nanos)
        if kind == "lost":
            return RecordsLost(count=item.lost.lost_records, reason=item.lost.reason)
        # An item of a kind newer than this client: skip it.
        return self.get(timeout)

    def _deliver(self, record: Record) -> Record:
        with self._lock:
            self._positions[record.agent_id] = Position(record.agent_id, record.epoch, record.seq)
        return record

    def positions(self) -> List[Position]:
        """The position of the last record read from each agent, for resume_after."""
        with self._lock:
            return list(self._positions.values())

    def close(self) -> None:
        """Ends the subscription: reads from then on stop the iteration, without error."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._call.cancel()
        # Wake a reader blocked in get().
        while True:
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            try:
                self._queue.put_nowait(_END)
                break
            except queue.Full:
                continue
        self._thread.join(timeout=5)

    cancel = close

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._closed.is_set():
                self._closed.set()
                self._call.cancel()
        except Exception:
            pass


class Client:
    """A connection to a sysflux hub's API (HubService and PolicyService over gRPC).

    address is "host:port", or a URL "http://host:port" (plaintext) or "https://host:port"
    (TLS). token is sent as "authorization: Bearer <token>" with every call. TLS is used when
    tls is true, the address is https://, or certificates are given: root_certificates (PEM
    bytes or a file path; default the system's roots), and for a hub that asks for client
    certificates, certificate_chain and private_key. server_name overrides the name the hub's
    certificate must bear. timeout (seconds) bounds every call but subscriptions, which last
    until closed; None waits for ever.

    Use it as a context manager, or call close().
    """

    def __init__(
        self,
        address: str,
        *,
        token: Optional[str] = None,
        tls: Optional[bool] = None,
        root_certificates: Union[bytes, str, None] = None,
        certificate_chain: Union[bytes, str, None] = None,
        private_key: Union[bytes, str, None] = None,
        server_name: Optional[str] = None,
        timeout: Optional[float] = 30.0,
        options: Sequence[Tuple[str, Any]] = (),
    ) -> None:
        target, scheme_tls = _parse_address(address)
        if tls is None:
            tls = bool(scheme_tls) or any(v is not None for v in (root_certificates, certificate_chain, private_key))
        elif not tls and scheme_tls:
            raise ValueError("hub address %r asks for TLS but tls=False" % address)
        if (certificate_chain is None) != (private_key is None):
            raise ValueError("certificate_chain and private_key go together")
        if token is not None and not token:
            raise ValueError("token is empty")
        self.address = address
        self.target = target
        self.timeout = timeout
        self.tls = tls
        self._token = token
        self._client_cert = certificate_chain is not None
        opts: List[Tuple[str, Any]] = [
            ("grpc.max_receive_message_length", _MAX_RECEIVE_BYTES),
            ("grpc.primary_user_agent", "sysflux-python/" + __version__),
        ]
        if server_name:
            opts.append(("grpc.ssl_target_name_override", server_name))
        opts.extend(options)
        if tls:
            creds = grpc.ssl_channel_credentials(
                root_certificates=_read(root_certificates, "root_certificates"),
                private_key=_read(private_key, "private_key"),
                certificate_chain=_read(certificate_chain, "certificate_chain"),
            )
            self._channel = grpc.secure_channel(target, creds, options=opts)
        else:
            self._channel = grpc.insecure_channel(target, options=opts)
        self._metadata: Tuple[Tuple[str, str], ...] = (
            (("authorization", "Bearer " + token),) if token else ()
        )
        #: The generated stubs, for the calls the client does not wrap (GetProvenance, Export):
        #: pass metadata=client.metadata.
        self.hub = hub_service_pb2_grpc.HubServiceStub(self._channel)
        self.policy = policy_service_pb2_grpc.PolicyServiceStub(self._channel)

    @property
    def metadata(self) -> Tuple[Tuple[str, str], ...]:
        """The metadata the client sends with every call (the token)."""
        return self._metadata

    # ---- plumbing -------------------------------------------------------------------------

    def _error(self, e: grpc.RpcError, what: str, context: str = "") -> errors.SysfluxError:
        err = errors.from_rpc_error(
            e, address=self.address, what=what, context=context, has_token=self._token is not None
        )
        if isinstance(err, errors.HubUnreachable):
            hint = _tls_hint(err.details, self.tls, self._client_cert)
            if hint:
                err.args = ("%s (%s)" % (err.args[0], hint),)
        return err

    def _unary(self, method: Any, request: Any, what: str, context: str = "", timeout: Optional[float] = -1.0) -> Any:
        t = self.timeout if timeout == -1.0 else timeout
        try:
            return method(request, timeout=t, metadata=self._metadata)
        except grpc.RpcError as e:
            raise self._error(e, what, context) from None

    def close(self) -> None:
        """Closes the connection; subscriptions still open end."""
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- HubService -----------------------------------------------------------------------

    def subscribe(
        self,
        filter: str = "",
        *,
        language: str = "falco",
        record_types: Union[RecordTypeLike, Iterable[RecordTypeLike], None] = (),
        node_ids: Union[str, Iterable[str], None] = (),
        op_flags: Union[int, str, Iterable[Union[str, int]], None] = 0,
        from_oldest: bool = False,
        resume_after: Iterable[PositionLike] = (),
        content: str = "records",
        heartbeat: Union[float, _dt.timedelta, None] = None,
        buffer: int = 64,
    ) -> Subscription:
        """Subscribes to the hub's records and/or alerts.

        filter is a condition in language ("falco", the default, or "cel"); record_types are
        names such as "process_event" or RecordType numbers; op_flags are OperationFlag bits or
        names ("exec", "open|close"); content is "records", "alerts" or "both"; heartbeat is the
        idle time (seconds) after which the hub sends a Heartbeat (None: the hub's 10 s).
        from_oldest starts with the oldest record the hub holds; resume_after lists the last
        positions seen of agents, to receive only what came after them.

        The subscription starts at once; an error (FilterError, HubUnreachable,
        Unauthenticated...) is raised by the first read. buffer bounds the responses read ahead.
        """
        req = hub_service_pb2.SubscribeRequest(
            record_types=parse_record_types(record_types),
            node_ids=_strings(node_ids, "node_ids"),
            op_flags=parse_op_flags(op_flags),
            resume_after=[position_proto(p) for p in resume_after],
            from_oldest=from_oldest,
            content=_content(content),
            filter=filter,
            filter_language=_language(language),
        )
        if heartbeat is not None:
            secs = duration_seconds(heartbeat)
            if secs <= 0:
                raise ValueError("heartbeat must be positive, not %r" % (heartbeat,))
            whole = int(secs)
            req.heartbeat_interval.CopyFrom(
                duration_pb2.Duration(seconds=whole, nanos=int(round((secs - whole) * 1e9)))
            )
        call = self.hub.Subscribe(req, metadata=self._metadata)
        return Subscription(call, lambda e: self._error(e, "subscribe", "filter"), buffer=buffer)

    def _query_request(
        self,
        filter: str,
        language: str,
        start: Optional[TimeLike],
        end: Optional[TimeLike],
        record_types: Union[RecordTypeLike, Iterable[RecordTypeLike], None],
        node_ids: Union[str, Iterable[str], None],
        page_size: int,
    ) -> hub_service_pb2.QueryRequest:
        req = hub_service_pb2.QueryRequest(
            node_ids=_strings(node_ids, "node_ids"),
            record_types=parse_record_types(record_types),
            filter=filter,
            filter_language=_language(language),
            page_size=page_size,
        )
        if start is not None:
            req.start_time.CopyFrom(to_timestamp(start))
        if end is not None:
            req.end_time.CopyFrom(to_timestamp(end))
        return req

    def query_pages(
        self,
        filter: str = "",
        *,
        start: Optional[TimeLike] = None,
        end: Optional[TimeLike] = None,
        record_types: Union[RecordTypeLike, Iterable[RecordTypeLike], None] = (),
        node_ids: Union[str, Iterable[str], None] = (),
        language: str = "falco",
        page_size: int = 0,
        page_token: str = "",
    ) -> Iterator[QueryPage]:
        """Queries the stored records of [start, end) page by page: an iterator of QueryPage,
        each with its records and the entities that resolve them (page.process_of(record)).

        Times are ns since the epoch (int), datetimes, RFC 3339 strings or Timestamps; None
        leaves the range open. page_size 0 means the hub's 1000. The first page is fetched by
        this call, so that an error (FilterError...) is raised here; the next ones as the
        iteration needs them. page_token continues an earlier query from that page.
        """
        req = self._query_request(filter, language, start, end, record_types, node_ids, page_size)
        req.page_token = page_token
        first = QueryPage.from_proto(self._unary(self.hub.Query, req, "query", "filter"))
        return self._more_pages(req, first)

    def _more_pages(self, req: hub_service_pb2.QueryRequest, page: QueryPage) -> Iterator[QueryPage]:
        while True:
            yield page
            if not page.next_page_token:
                return
            req.page_token = page.next_page_token
            page = QueryPage.from_proto(self._unary(self.hub.Query, req, "query", "filter"))

    def query(
        self,
        filter: str = "",
        *,
        start: Optional[TimeLike] = None,
        end: Optional[TimeLike] = None,
        record_types: Union[RecordTypeLike, Iterable[RecordTypeLike], None] = (),
        node_ids: Union[str, Iterable[str], None] = (),
        language: str = "falco",
        page_size: int = 0,
    ) -> Iterator[Record]:
        """The stored records of [start, end) that match, in time order, fetching pages as the
        iteration needs them (see query_pages, which also gives each page's entities)."""
        pages = self.query_pages(
            filter,
            start=start,
            end=end,
            record_types=record_types,
            node_ids=node_ids,
            language=language,
            page_size=page_size,
        )
        return (r for page in pages for r in page.records)

    def list_agents(self) -> List[Agent]:
        """The agents the hub reads from and how far it has read each."""
        resp = self._unary(self.hub.ListAgents, hub_service_pb2.ListAgentsRequest(), "list the agents")
        return [Agent.from_proto(a) for a in resp.agents]

    # ---- PolicyService --------------------------------------------------------------------

    def push_rules(self, path: PathLike, *, name: Optional[str] = None, replace_all: bool = False) -> RulesChange:
        """Puts the Falco rules file at path in force under name (default its base name),
        replacing the file of that name if one is in force, or all files with replace_all.

        Raises RulesError, listing each problem's file, line, column and message, when the
        rules do not compile (the rules in force stay as they were), PermissionDenied when the
        token may not change rules.
        """
        return self.put_rules({name or os.path.basename(os.fspath(path)): _read_text(path)}, replace_all=replace_all)

    def put_rules(
        self, files: Union[Mapping[str, str], Iterable[Tuple[str, str]]], *, replace_all: bool = False
    ) -> RulesChange:
        """Puts rules files, given as name -> YAML text, in force (see push_rules)."""
        req = policy_service_pb2.PutRulesRequest(files=rules_files(dict(files)), replace_all=replace_all)
        resp = self._unary(self.policy.PutRules, req, "push rules", "rules")
        return RulesChange.from_proto(resp)

    def delete_rules(self, names: Union[str, Iterable[str]]) -> RulesChange:
        """Removes the rules files of these names from the rules in force. Raises NotFound,
        changing nothing, when a name is not in force."""
        req = policy_service_pb2.DeleteRulesRequest(names=_strings(names, "names"))
        resp = self._unary(self.policy.DeleteRules, req, "delete rules", "rules")
        return RulesChange.from_proto(resp)

    def list_rules(self, *, include_content: bool = False) -> RulesState:
        """The rules files in force, in load order, and what each rule became."""
        req = policy_service_pb2.ListRulesRequest(include_content=include_content)
        return RulesState.from_proto(self._unary(self.policy.ListRules, req, "list the rules"))

    def validate_rules(
        self, path: PathLike, *, name: Optional[str] = None, include_active: bool = True
    ) -> Validation:
        """Compiles the rules file at path without changing the rules in force: a Validation
        whose problems are empty when it compiles. With include_active (the default), it is
        compiled as push_rules would put it in force, after the files in force (so it may use
        their macros and lists); else alone."""
        req = policy_service_pb2.ValidateRulesRequest(
            files=rules_files({name or os.path.basename(os.fspath(path)): _read_text(path)}),
            include_active=include_active,
        )
        return Validation.from_proto(self._unary(self.policy.ValidateRules, req, "validate rules", "rules"))


def _read_text(path: PathLike) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise errors.SysfluxError("sysflux: cannot read the rules file %s: %s" % (os.fspath(path), e.strerror)) from None

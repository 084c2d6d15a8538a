package service

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
)

// Fuzz targets for what clients send the public API: filters, page tokens, and whole request
// messages, through the validation the RPCs do before any work. Their seeds are below and in
// testdata/fuzz/<target>; go test replays both.

// fuzzService is a service with Falco's default rules in force, and records of a real trace
// as the ring holds them, to evaluate filters on; built once.
type fuzzService struct {
	s       *Service
	entries []ring.Entry
}

var (
	fuzzOnce sync.Once
	fuzzSvc  fuzzService
	fuzzErr  error
)

func fuzzServiceOf(tb testing.TB) fuzzService {
	tb.Helper()
	fuzzOnce.Do(func() {
		rules, err := engine.NewActive(defaults.Files()...)
		if err != nil {
			fuzzErr = err
			return
		}
		fuzzSvc.s = New(Config{Ring: ring.New(ring.Limits{MaxRecords: 16}), Policy: rules})
		recs, err := sfavro.ReadFile("../../../shared/fixtures/sysflow/traces/sfprocessor_k8s_small.sf")
		if err != nil {
			fuzzErr = err
			return
		}
		for i, r := range recs[:min(len(recs), 400)] {
			r.NodeId, r.AgentId, r.Epoch, r.Seq = "n", "a", 1, int64(i+1)
			raw, err := proto.Marshal(r)
			if err != nil {
				fuzzErr = err
				return
			}
			m, err := ring.Scan(raw)
			if err != nil {
				fuzzErr = err
				return
			}
			fuzzSvc.entries = append(fuzzSvc.entries, ring.Entry{NodeID: "n", AgentID: "a", Epoch: 1, Seq: int64(i + 1), Type: m.Type, OpFlags: m.OpFlags, Raw: raw})
		}
	})
	if fuzzErr != nil {
		tb.Fatal(fuzzErr)
	}
	return fuzzSvc
}

// filterSeeds are filters to start from: conditions and macros of the default rules, CEL.
var filterSeeds = []struct {
	text string
	cel  bool
}{
	{"spawned_process and proc.name in (shell_binaries)", false},
	{"open_read and sensitive_files and not proc.name in (user_mgmt_binaries)", false},
	{`evt.type in (connect, accept) and fd.sip != "127.0.0.1" and proc.aname[2] = sshd`, false},
	{`proc.acmdline glob "*--password=*" or fd.name pmatch (/etc, /root/.ssh)`, false},
	{`sf.type = PE and sf.proc.cmdline pmatch (secret, token)`, false},
	{"proc.name = bash and\n  (fd.name startswith /etc or fd.directory in (/etc, /usr/bin))", false},
	{`sf.type == "FF" && fd.name.startsWith("/etc/")`, true},
	{`proc.aname.exists(a, a == "sshd") && "execve" in evt.type`, true},
	{`proc.aname.exists(a, proc.aname.exists(b, proc.aname.exists(c, a + b + c == "x")))`, true},
	{`glob(proc.exe, "/usr/*/python*") || proc.cmdline.matches("^curl .*-o")`, true},
}

// checkRequestError checks the error validating req gives: a filter's, as checkFilterError
// does, or another that says something.
func checkRequestError(t *testing.T, req any, filter string, err error) {
	t.Helper()
	if _, ok := errors.AsType[*filterError](err); ok {
		checkFilterError(t, filter, err)
	} else if err.Error() == "" {
		t.Fatalf("request %v: an empty error", req)
	}
}

// checkFilterError checks that a filter's error says what and where: a *filterError whose
// problems each have a message, and a position within the filter or none.
func checkFilterError(t *testing.T, text string, err error) {
	t.Helper()
	fe, ok := errors.AsType[*filterError](err)
	if !ok {
		if strings.Contains(err.Error(), "filter_language") {
			return
		}
		t.Fatalf("filter %q: error %v (%T) is not a *filterError", text, err, err)
	}
	if len(fe.errs) == 0 {
		t.Fatalf("filter %q: a *filterError with no problem", text)
	}
	norm := strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(norm, "\n")
	for _, x := range fe.errs {
		if x.GetMessage() == "" {
			t.Fatalf("filter %q: a problem with no message: %v", text, x)
		}
		line, col := int(x.GetLine()), int(x.GetColumn())
		switch {
		case line == 0 && col == 0: // where is not known
		case line < 1 || line > len(lines) || col < 1 || col > len(lines[line-1])+1:
			t.Fatalf("filter %q: problem at %d:%d, outside the filter: %s", text, line, col, x.GetMessage())
		}
	}
	if !utf8.ValidString(err.Error()) && utf8.ValidString(text) {
		t.Fatalf("filter %q: error is not UTF-8: %q", text, err)
	}
	if cerr := invalidArgument(err); cerr.Code() != connect.CodeInvalidArgument {
		t.Fatalf("filter %q: error code %v", text, cerr.Code())
	}
}

// checkFilter evaluates a compiled filter on the trace's records: its cost is within the
// limit, and no evaluation is stopped, as the trace's values are within what the estimate
// assumes.
func checkFilter(t *testing.T, in fuzzService, text string, f *recordFilter) {
	t.Helper()
	if (f == nil) != (text == "") {
		t.Fatalf("filter %q compiled to %v", text, f)
	}
	if f == nil {
		return
	}
	r := f.set.Rules()[0]
	if r.Cost > in.s.cfg.MaxFilterCost {
		t.Fatalf("filter %q compiled with an estimated cost of %d, over the limit of %d", text, r.Cost, in.s.cfg.MaxFilterCost)
	}
	for i := range in.entries {
		e := &in.entries[i]
		f.observe(e)
		f.match(e)
	}
	if n := f.ev.Stopped(); n > 0 {
		t.Fatalf("filter %q (CEL %s, estimated cost %d): %d evaluations on the trace stopped by the cost limit", text, r.CEL, r.Cost, n)
	}
	if f.undecodable > 0 {
		t.Fatalf("filter %q: %d records of the trace undecodable", text, f.undecodable)
	}
}

// FuzzFilter compiles any text as a Falco or a CEL filter, as Subscribe, Query and Export do:
// it compiles, or is refused with errors at positions within it; once compiled, it is within
// the cost limit and evaluates on a real trace without the limit stopping it.
func FuzzFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s.text, s.cel)
	}
	in := fuzzServiceOf(f)
	f.Fuzz(func(t *testing.T, text string, cel bool) {
		lang := hubv1.FilterLanguage_FILTER_LANGUAGE_FALCO
		if cel {
			lang = hubv1.FilterLanguage_FILTER_LANGUAGE_CEL
		}
		rf, err := in.s.compileFilter(text, lang)
		if err != nil {
			checkFilterError(t, text, err)
			return
		}
		checkFilter(t, in, text, rf)
	})
}

// FuzzPageToken parses any page token: only tokens this hub returned, for the same query,
// parse; and every token it returns parses back to where it said the next page starts.
func FuzzPageToken(f *testing.F) {
	f.Add(pageToken(42, []byte("\x00\x01key")), uint64(42), []byte("key"))
	f.Add("AQAAAAAAAAAqAAFrZXk", uint64(7), []byte{0})
	f.Add("not a token", uint64(0), []byte{})
	f.Fuzz(func(t *testing.T, tok string, hash uint64, key []byte) {
		after, err := parsePageToken(tok, hash)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "page_token: ") {
				t.Fatalf("parsePageToken(%q): error %q does not name page_token", tok, err)
			}
		} else {
			if len(after) == 0 {
				t.Fatalf("parsePageToken(%q) = an empty key", tok)
			}
			back, err := parsePageToken(pageToken(hash, after), hash)
			if err != nil || !bytes.Equal(back, after) {
				t.Fatalf("parsePageToken(%q) = %x, which does not go back and forth: %x, %v", tok, after, back, err)
			}
		}
		if len(key) == 0 {
			return
		}
		tok = pageToken(hash, key)
		got, err := parsePageToken(tok, hash)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("parsePageToken(pageToken(%d, %x)) = %x, %v", hash, key, got, err)
		}
		if _, err := parsePageToken(tok, hash+1); err == nil {
			t.Fatalf("token %q of query %d parses for query %d", tok, hash, hash+1)
		}
	})
}

// addRequests adds requests' encodings, binary and JSON, as seeds.
func addRequests(f *testing.F, msgs ...proto.Message) {
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		if b, err = protojson.Marshal(m); err == nil { // JSON has no invalid times
			f.Add(b)
		}
	}
}

// decodeRequest decodes b into msg as the service's codecs do, binary or JSON; it reports
// whether either decoded it.
func decodeRequest(b []byte, msg proto.Message, json bool) bool {
	if json {
		return jsonCodec{}.Unmarshal(b, msg) == nil
	}
	return binaryCodec{}.Unmarshal(b, msg) == nil
}

// FuzzSubscribeRequest decodes any bytes as a SubscribeRequest, binary and JSON, and validates
// it as Subscribe does before it reads the ring: refused with INVALID_ARGUMENT, or a filter
// whose selectors are those asked for, which evaluates on a real trace.
func FuzzSubscribeRequest(f *testing.F) {
	addRequests(f,
		&hubv1.SubscribeRequest{},
		&hubv1.SubscribeRequest{FromOldest: true, HeartbeatInterval: durationpb.New(time.Second), Content: hubv1.SubscribeContent_SUBSCRIBE_CONTENT_RECORDS_AND_ALERTS},
		&hubv1.SubscribeRequest{RecordTypes: []sysflowv1.RecordType{sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT}, NodeIds: []string{"n"}, OpFlags: 2,
			Filter: filterSeeds[0].text},
		&hubv1.SubscribeRequest{ResumeAfter: []*sysflowv1.Position{{AgentId: "a", Epoch: 1, Seq: 10}}, Filter: filterSeeds[6].text, FilterLanguage: hubv1.FilterLanguage_FILTER_LANGUAGE_CEL},
		&hubv1.SubscribeRequest{HeartbeatInterval: &durationpb.Duration{Seconds: -1, Nanos: 5}},
	)
	in := fuzzServiceOf(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, json := range []bool{false, true} {
			req := new(hubv1.SubscribeRequest)
			if !decodeRequest(b, req, json) {
				continue
			}
			flt, err := newFilter(req, in.s.compileFilter)
			if err != nil {
				if req.GetFilter() != "" {
					if _, ok := errors.AsType[*filterError](err); ok {
						checkFilterError(t, req.GetFilter(), err)
						continue
					}
				}
				if err.Error() == "" || invalidArgument(err).Code() != connect.CodeInvalidArgument {
					t.Fatalf("request %v: error %q", req, err)
				}
				continue
			}
			if flt.heartbeat < 100*time.Millisecond || flt.heartbeat > time.Hour {
				t.Fatalf("request %v: heartbeat every %v", req, flt.heartbeat)
			}
			if len(flt.resume) != len(req.GetResumeAfter()) {
				t.Fatalf("request %v: resumes %d agents, asked %d", req, len(flt.resume), len(req.GetResumeAfter()))
			}
			for i := range in.entries {
				e := &in.entries[i]
				if flt.match(e) && ((len(req.GetRecordTypes()) > 0 && !flt.types[e.Type]) || (flt.nodes != nil && !flt.nodes[e.NodeID])) {
					t.Fatalf("request %v: passes a record of type %v from node %q", req, e.Type, e.NodeID)
				}
			}
			if flt.records != nil {
				checkFilter(t, in, req.GetFilter(), flt.records)
			}
		}
	})
}

// checkSelection checks a validated Query or Export selection against its request.
func checkSelection(t *testing.T, in fuzzService, req proto.Message, filter string, sel *selection) {
	t.Helper()
	if sel.rg.End < sel.rg.Start {
		t.Fatalf("request %v: range [%d, %d) ends before it starts", req, sel.rg.Start, sel.rg.End)
	}
	if sel.filter != nil {
		checkFilter(t, in, filter, sel.filter)
	} else if filter != "" {
		t.Fatalf("request %v: filter %q compiled to none", req, filter)
	}
}

// FuzzQueryRequest decodes any bytes as a QueryRequest, binary and JSON, and validates it as
// Query does before it reads the store: its range, selectors, filter, page size and token.
func FuzzQueryRequest(f *testing.F) {
	start, end := timestamppb.New(time.Unix(1_700_000_000, 0)), timestamppb.New(time.Unix(1_700_000_100, 0))
	q := &hubv1.QueryRequest{StartTime: start, EndTime: end, Filter: filterSeeds[1].text, PageSize: 100}
	next := proto.CloneOf(q)
	next.PageToken = pageToken(queryHash(q), []byte("\x00\x00\x00\x00key"))
	addRequests(f,
		&hubv1.QueryRequest{},
		q, next,
		&hubv1.QueryRequest{NodeIds: []string{"n"}, RecordTypes: []sysflowv1.RecordType{sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW},
			Filter: filterSeeds[7].text, FilterLanguage: hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, PageSize: -1},
		&hubv1.QueryRequest{StartTime: end, EndTime: start, PageToken: "AQ"},
		&hubv1.QueryRequest{StartTime: &timestamppb.Timestamp{Seconds: 1 << 62}},
	)
	in := fuzzServiceOf(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, json := range []bool{false, true} {
			req := new(hubv1.QueryRequest)
			if !decodeRequest(b, req, json) {
				continue
			}
			sel, size, err := in.s.newQuery(req)
			if err != nil {
				checkRequestError(t, req, req.GetFilter(), err)
				continue
			}
			if size < 1 || size > maxPageSize {
				t.Fatalf("request %v: page of %d records", req, size)
			}
			if req.GetPageToken() != "" && len(sel.rg.After) == 0 {
				t.Fatalf("request %v: a page token, and the page starts at the beginning", req)
			}
			checkSelection(t, in, req, req.GetFilter(), sel)
			sel.close()
		}
	})
}

// FuzzExportRequest decodes any bytes as an ExportRequest, binary and JSON, and validates it
// as Export does before it reads the store.
func FuzzExportRequest(f *testing.F) {
	addRequests(f,
		&hubv1.ExportRequest{},
		&hubv1.ExportRequest{StartTime: timestamppb.New(time.Unix(1_700_000_000, 0)), MaxFileBytes: 1 << 20,
			MaxFileDuration: durationpb.New(time.Minute), Filter: filterSeeds[2].text},
		&hubv1.ExportRequest{NodeIds: []string{"n"}, Filter: filterSeeds[8].text, FilterLanguage: hubv1.FilterLanguage_FILTER_LANGUAGE_CEL},
		&hubv1.ExportRequest{MaxFileBytes: -1, MaxFileDuration: &durationpb.Duration{Seconds: -5}},
	)
	in := fuzzServiceOf(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, json := range []bool{false, true} {
			req := new(hubv1.ExportRequest)
			if !decodeRequest(b, req, json) {
				continue
			}
			sel, maxDur, err := in.s.newExport(req)
			if err != nil {
				checkRequestError(t, req, req.GetFilter(), err)
				continue
			}
			if maxDur < 0 || req.GetMaxFileBytes() < 0 {
				t.Fatalf("request %v: files of %v, %d bytes at most", req, maxDur, req.GetMaxFileBytes())
			}
			checkSelection(t, in, req, req.GetFilter(), sel)
			sel.close()
		}
	})
}

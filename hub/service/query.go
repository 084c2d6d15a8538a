package service

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/store"
	"github.com/sysflux/sysflux/policy/field"
)

const (
	defaultPageSize = 1000
	maxPageSize     = 10000
	// maxPageScan bounds the records one page reads: a selective filter over a large store
	// returns a short (or empty) page with a token rather than scanning without end.
	maxPageScan = 5_000_000
)

// selection is a validated set of selectors of a Query or Export.
type selection struct {
	rg      store.Range
	anyType bool
	types   [sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT + 1]bool
	nodes   map[string]bool
	filter  *recordFilter // nil without one
	// ents resolves each node's entities, filled as the scan shows them.
	ents map[string]*store.Entities
	st   *store.Store
}

func (s *Service) newSelection(start, end *timestamppb.Timestamp, nodes []string, types []sysflowv1.RecordType, filter string, lang hubv1.FilterLanguage) (*selection, error) {
	sel := &selection{rg: store.All, anyType: len(types) == 0, ents: map[string]*store.Entities{}, st: s.cfg.Store}
	if start != nil {
		if err := start.CheckValid(); err != nil {
			return nil, fmt.Errorf("start_time: %w", err)
		}
		sel.rg.Start = timeNanos(start)
	}
	if end != nil {
		if err := end.CheckValid(); err != nil {
			return nil, fmt.Errorf("end_time: %w", err)
		}
		sel.rg.End = timeNanos(end)
	}
	if sel.rg.End < sel.rg.Start {
		return nil, fmt.Errorf("end_time %s is before start_time %s", end.AsTime(), start.AsTime())
	}
	for _, t := range types {
		if t <= sysflowv1.RecordType_RECORD_TYPE_UNSPECIFIED || t > sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT {
			return nil, fmt.Errorf("record_types: unknown record type %d", t)
		}
		sel.types[t] = true
	}
	if len(nodes) > 0 {
		sel.nodes = make(map[string]bool)
		for _, n := range nodes {
			sel.nodes[n] = true
		}
	}
	rf, err := s.compileFilter(filter, lang)
	if err != nil {
		return nil, err
	}
	sel.filter = rf
	return sel, nil
}

// timeNanos returns t in nanoseconds, saturating at the int64 bounds.
func timeNanos(t *timestamppb.Timestamp) int64 {
	const maxSec = math.MaxInt64/1_000_000_000 - 1
	switch s := t.GetSeconds(); {
	case s > maxSec:
		return math.MaxInt64
	case s < -maxSec:
		return math.MinInt64
	}
	return t.GetSeconds()*1e9 + int64(t.GetNanos())
}

// entities returns the resolver of a node's entities.
func (sel *selection) entities(node string) *store.Entities {
	e := sel.ents[node]
	if e == nil {
		e = sel.st.Entities(node)
		sel.ents[node] = e
	}
	return e
}

// close releases the selection's resolvers.
func (sel *selection) close() {
	for _, e := range sel.ents {
		e.Close()
	}
}

// match reports whether a stored record passes the selectors. Entity records are decoded and
// kept by the node's resolver, so that the records after them resolve their references as of
// their time, whether they pass or not; the decoded entity is returned for the caller to use
// (nil for other records).
func (sel *selection) match(it *store.Item) (bool, *sysflowv1.Record) {
	if sel.nodes != nil && !sel.nodes[it.NodeID] {
		return false, nil
	}
	ents := sel.entities(it.NodeID)
	ents.At(it.Time)
	t := it.Type
	var entity *sysflowv1.Record
	if !isEvent(t) && t != sysflowv1.RecordType_RECORD_TYPE_HEADER {
		entity = new(sysflowv1.Record)
		if ring.Decode(it.Raw, entity) != nil {
			entity = nil
		} else {
			ents.Observe(entity)
		}
	}
	if !sel.anyType && !sel.types[t] {
		return false, entity
	}
	if sel.filter == nil {
		return true, entity
	}
	// Entities and headers match a filter only when it selects their type: those the matching
	// records reference come with them.
	if !isEvent(t) && !slices.Contains(sel.filter.types, t) {
		return false, entity
	}
	return sel.filter.eval(t, it.OpFlags, it.Raw, envelope{it.NodeID, it.AgentID, it.Epoch, it.Seq}, ents), entity
}

// invalidArgument returns err as an INVALID_ARGUMENT error, with the positions of a filter's
// errors as a detail.
func invalidArgument(err error) *connect.Error {
	cerr := connect.NewError(connect.CodeInvalidArgument, err)
	var fe *filterError
	if errors.As(err, &fe) {
		if d, derr := connect.NewErrorDetail(&policyv1.RulesErrors{Errors: fe.errs}); derr == nil {
			cerr.AddDetail(d)
		}
	}
	return cerr
}

var errNoStore = connect.NewError(connect.CodeUnimplemented, errors.New("this hub keeps no store: start it with a data directory"))

// newQuery validates a QueryRequest: it returns what the page selects, from where the page
// token says, and the page's size in records.
func (s *Service) newQuery(q *hubv1.QueryRequest) (*selection, int, error) {
	size := int(q.GetPageSize())
	switch {
	case size < 0:
		return nil, 0, fmt.Errorf("page_size: %d is negative", size)
	case size == 0:
		size = defaultPageSize
	case size > maxPageSize:
		size = maxPageSize
	}
	sel, err := s.newSelection(q.GetStartTime(), q.GetEndTime(), q.GetNodeIds(), q.GetRecordTypes(), q.GetFilter(), q.GetFilterLanguage())
	if err != nil {
		return nil, 0, err
	}
	if q.GetPageToken() != "" {
		after, err := parsePageToken(q.GetPageToken(), queryHash(q))
		if err != nil {
			sel.close()
			return nil, 0, err
		}
		sel.rg.After = after
	}
	return sel, size, nil
}

// queryOverheadBytes is room left in a page for what is not records or entities.
const queryOverheadBytes = 4 << 10

// Query returns one page of stored records. A page ends after page_size records, or before
// the record that would make it larger than MaxResponseBytes.
func (s *Service) Query(ctx context.Context, req *connect.Request[hubv1.QueryRequest]) (*connect.Response[hubv1.QueryResponse], error) {
	if s.cfg.Store == nil {
		return nil, errNoStore
	}
	q := req.Msg
	sel, size, err := s.newQuery(q)
	if err != nil {
		return nil, invalidArgument(err)
	}
	defer sel.close()
	hash := queryHash(q)
	var (
		resp      = &hubv1.QueryResponse{}
		lastKey   []byte
		more      bool
		seen      = map[proto.Message]bool{}
		failed    error
		respBytes int
		budget    = s.cfg.MaxResponseBytes - queryOverheadBytes
		fresh     []*sysflowv1.Record
	)
	err = s.scanMatches(ctx, sel, func(sc *scanned) bool {
		resp.ScannedRecords++
		if !sc.matched {
			if resp.ScannedRecords >= maxPageScan {
				lastKey, more = slices.Clone(sc.key), true
				return false
			}
			return true
		}
		if len(resp.Records) == size {
			more = true // another record matches: the page ends before it
			return false
		}
		if sc.err != nil {
			failed = fmt.Errorf("stored record %x: %w", sc.key, sc.err)
			return false
		}
		// The record, and the entities it references that the page does not hold yet: the
		// resolver returns one message for each version it holds.
		n := protowire.SizeTag(1) + protowire.SizeBytes(proto.Size(sc.rec))
		fresh = fresh[:0]
		for _, e := range sc.refs {
			if !seen[entityPayload(e)] {
				fresh = append(fresh, e)
				n += protowire.SizeTag(2) + protowire.SizeBytes(proto.Size(e))
			}
		}
		if respBytes+n > budget {
			if len(resp.Records) == 0 {
				failed = connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
					"stored record %x, with the entities it references, takes %d bytes, more than the hub's largest response (%d bytes)", sc.key, n, s.cfg.MaxResponseBytes))
				return false
			}
			more = true // the page ends before it
			return false
		}
		respBytes += n
		resp.Records = append(resp.Records, sc.rec)
		for _, e := range fresh {
			seen[entityPayload(e)] = true
			resp.Entities = append(resp.Entities, e)
		}
		lastKey = append(lastKey[:0], sc.key...)
		if resp.ScannedRecords >= maxPageScan {
			more = true
			return false
		}
		return true
	})
	if err == nil {
		err = failed
	}
	if sel.filter != nil {
		s.counts.evaluationsStopped.Add(sel.filter.ev.Stopped())
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
		}
		if _, ok := errors.AsType[*connect.Error](err); ok {
			return nil, err
		}
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	if more {
		resp.NextPageToken = pageToken(hash, lastKey)
	}
	return connect.NewResponse(resp), nil
}

// refCollector collects the entities records reference, each version once, through the
// resolver of the records' node.
type refCollector struct {
	node string
	ents *store.Entities
	seen map[proto.Message]bool
	out  []*sysflowv1.Record
}

// add collects rec, whose payload is the version v of an entity, unless that has been collected.
// A resolver returns one message for each version it read, and records come in time order, so
// a version is not read twice.
func (c *refCollector) add(v proto.Message, rec *sysflowv1.Record) {
	if c.seen[v] {
		return
	}
	c.seen[v] = true
	rec.NodeId = c.node
	c.out = append(c.out, rec)
}

// record collects what r references.
func (c *refCollector) record(r *sysflowv1.Record) {
	if oid := field.ProcOID(r); oid != nil {
		if p := c.ents.Process(oid); p != nil {
			c.add(p, &sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: p}})
			c.container(p.GetContainerId())
		}
	}
	c.files(r)
}

// files collects the files r references, with their containers.
func (c *refCollector) files(r *sysflowv1.Record) {
	file, newFile := field.FileOIDs(r)
	for _, foid := range [][]byte{file, newFile} {
		if len(foid) == 0 {
			continue
		}
		if f := c.ents.File(foid); f != nil {
			c.add(f, &sysflowv1.Record{Rec: &sysflowv1.Record_File{File: f}})
			c.container(f.GetContainerId())
		}
	}
}

// container collects a container and its pod.
func (c *refCollector) container(id string) {
	if id == "" {
		return
	}
	ct := c.ents.Container(id)
	if ct == nil {
		return
	}
	c.add(ct, &sysflowv1.Record{Rec: &sysflowv1.Record_Container{Container: ct}})
	if pid := ct.GetPodId(); pid != "" {
		if p := c.ents.Pod(pid); p != nil {
			c.add(p, &sysflowv1.Record{Rec: &sysflowv1.Record_Pod{Pod: p}})
		}
	}
}

// entityPayload returns the payload of an entity record.
func entityPayload(e *sysflowv1.Record) proto.Message {
	switch x := e.GetRec().(type) {
	case *sysflowv1.Record_Process:
		return x.Process
	case *sysflowv1.Record_File:
		return x.File
	case *sysflowv1.Record_Container:
		return x.Container
	case *sysflowv1.Record_Pod:
		return x.Pod
	}
	return e
}

// queryHash identifies what a query selects, so that a page token is used only with the query
// that returned it.
func queryHash(q *hubv1.QueryRequest) uint64 {
	c := proto.CloneOf(q)
	c.PageToken, c.PageSize = "", 0
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

const pageTokenVersion = 1

// pageToken encodes where the next page starts: after the record with key last.
func pageToken(hash uint64, last []byte) string {
	b := []byte{pageTokenVersion}
	b = binary.BigEndian.AppendUint64(b, hash)
	b = append(b, last...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parsePageToken(tok string, hash uint64) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 10 || b[0] != pageTokenVersion {
		return nil, errors.New("page_token: not a token this hub returned")
	}
	if binary.BigEndian.Uint64(b[1:9]) != hash {
		return nil, errors.New("page_token: the token belongs to a query with other selectors")
	}
	return b[9:], nil
}

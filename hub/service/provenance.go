package service

import (
	"context"
	"errors"
	"fmt"
	"math"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/store"
	"github.com/sysflux/sysflux/policy/field"
)

const (
	defaultProvenanceRecords = 100
	maxProvenanceRecords     = 10000
	maxAncestors             = 64
	// maxProvenanceScan bounds the records read to find the processes' records.
	maxProvenanceScan = 20_000_000
)

// GetProvenance returns a process with its ancestors and children, and what each did.
func (s *Service) GetProvenance(ctx context.Context, req *connect.Request[hubv1.GetProvenanceRequest]) (*connect.Response[hubv1.GetProvenanceResponse], error) {
	st := s.cfg.Store
	if st == nil {
		return nil, errNoStore
	}
	q := req.Msg
	perProc := int(q.GetMaxRecordsPerProcess())
	switch {
	case perProc < 0:
		return nil, invalidArgument(fmt.Errorf("max_records_per_process: %d is negative", perProc))
	case perProc == 0:
		perProc = defaultProvenanceRecords
	case perProc > maxProvenanceRecords:
		perProc = maxProvenanceRecords
	}
	nAnc := int(q.GetMaxAncestors())
	switch {
	case nAnc < 0:
		return nil, invalidArgument(fmt.Errorf("max_ancestors: %d is negative", nAnc))
	case nAnc == 0 || nAnc > maxAncestors:
		nAnc = maxAncestors
	}
	if q.GetPid() <= 0 {
		return nil, invalidArgument(fmt.Errorf("pid: %d is not a process id", q.GetPid()))
	}
	node := q.GetNodeId()
	if node == "" {
		nodes := st.Nodes()
		if len(nodes) != 1 {
			return nil, invalidArgument(fmt.Errorf("node_id: the hub stores records of %d nodes; name one", len(nodes)))
		}
		node = nodes[0]
	}
	proc, err := st.LatestProcess(node, q.GetPid(), q.GetCreateTs())
	switch {
	case errors.Is(err, store.ErrUnknownNode):
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("node %q: %w", node, err))
	case err != nil:
		return nil, connect.NewError(connect.CodeInternal, err)
	case proc == nil:
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("no stored process %d on node %q", q.GetPid(), node))
	}
	ents := st.EntitiesAt(node)
	defer ents.Close()
	resp := &hubv1.GetProvenanceResponse{NodeId: node, Process: &hubv1.ProcessProvenance{Process: proc}}
	for p := proc; len(resp.Ancestors) < nAnc && p.GetPoid() != nil; {
		parent := ents.Process(p.GetPoid())
		if parent == nil {
			break
		}
		resp.Ancestors = append(resp.Ancestors, &hubv1.ProcessProvenance{Process: parent})
		p = parent
	}
	kids, err := st.Children(node, proc.GetOid())
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	for _, k := range kids {
		resp.Children = append(resp.Children, &hubv1.ProcessProvenance{Process: k})
	}

	// One scan from the process's creation on finds the records of all of them.
	byOID := map[[2]int64]*hubv1.ProcessProvenance{}
	all := append([]*hubv1.ProcessProvenance{resp.Process}, resp.Ancestors...)
	all = append(all, resp.Children...)
	for _, pp := range all {
		byOID[[2]int64{pp.Process.GetOid().GetHpid(), pp.Process.GetOid().GetCreateTs()}] = pp
	}
	full := 0
	rg := store.Range{Start: min(proc.GetOid().GetCreateTs(), proc.GetTs()), End: math.MaxInt64}
	scanned := 0
	err = st.Scan(ctx, rg, func(it *store.Item) (bool, error) {
		if scanned++; scanned > maxProvenanceScan {
			return false, nil
		}
		if it.NodeID != node || !isEvent(it.Type) {
			return true, nil
		}
		rec := new(sysflowv1.Record)
		if err := ring.Decode(it.Raw, rec); err != nil {
			return true, nil
		}
		oid := field.ProcOID(rec)
		if oid == nil {
			return true, nil
		}
		pp := byOID[[2]int64{oid.GetHpid(), oid.GetCreateTs()}]
		if pp == nil || pp.Truncated {
			return true, nil
		}
		if len(pp.Records) == perProc {
			pp.Truncated = true
			if full++; full == len(byOID) {
				return false, nil
			}
			return true, nil
		}
		pp.Records = append(pp.Records, rec)
		return true, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
		}
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	c := refCollector{node: node, ents: ents, seen: map[proto.Message]bool{}}
	for _, pp := range all {
		ents.At(math.MaxInt64)
		c.container(pp.Process.GetContainerId())
		for _, r := range pp.Records {
			ents.At(field.Time(r))
			c.files(r)
		}
	}
	resp.Entities = c.out
	return connect.NewResponse(resp), nil
}

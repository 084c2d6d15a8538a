package agent

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/entity"
)

// maxPolicyError bounds the error an agent reports for an edge policy it cannot apply.
const maxPolicyError = 4 << 10

// edgePolicy is the hub's drop rules as the agent applies them to the records its sources
// produce, before they enter the window, with the entities those records reference.
type edgePolicy struct {
	log             *slog.Logger
	nodeID, agentID string

	applyMu sync.Mutex // serialises apply, which compiles outside mu

	mu      sync.Mutex
	set     *engine.Set // nil drops nothing
	version int64
	rules   int
	err     string
	ents    *entity.Table
	ev      *engine.Evaluator
	changed chan struct{} // closed and replaced when the policy or its error changes

	dropped atomic.Int64
}

// edgeEntities bounds the entities of each kind the agent keeps for its drop rules, fewer than
// a hub keeps for all its agents: the least recently seen go first.
const edgeEntities = 32768

func newEdgePolicy(nodeID, agentID string, log *slog.Logger) *edgePolicy {
	return &edgePolicy{
		log: log, nodeID: nodeID, agentID: agentID,
		ents: entity.New(edgeEntities), ev: engine.NewEvaluator(), changed: make(chan struct{}),
	}
}

// apply compiles m's rules and puts them in force. When they do not compile, the rules in
// force stay, and the error is kept for Stats.
func (p *edgePolicy) apply(m *agentv1.EdgePolicy) {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	var (
		set   *engine.Set
		rules int
		err   error
	)
	if m.GetRulesYaml() != "" {
		name := fmt.Sprintf("edge policy %d", m.GetVersion())
		if set, err = engine.Load(engine.File{Name: name, Data: []byte(m.GetRulesYaml())}); err == nil {
			for _, r := range set.Rules() {
				if r.Status == engine.Compiled && r.Actions&engine.ActionDrop != 0 {
					rules++
				}
			}
			if rules == 0 {
				set = nil
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func() {
		close(p.changed)
		p.changed = make(chan struct{})
	}()
	if err != nil {
		msg := err.Error()
		if len(msg) > maxPolicyError {
			msg = msg[:maxPolicyError] + "…"
		}
		p.err = fmt.Sprintf("version %d: %s", m.GetVersion(), msg)
		p.log.Warn("edge policy does not compile; the one before stays in force",
			"version", m.GetVersion(), "in_force", p.version, "err", err)
		return
	}
	p.set, p.version, p.rules, p.err = set, m.GetVersion(), rules, ""
	p.log.Info("edge policy in force", "version", m.GetVersion(), "drop_rules", rules)
}

// drop reports whether a drop rule in force matches rec, which it counts then. Entities are
// never dropped: they are kept, for the records that reference them.
func (p *edgePolicy) drop(rec *sysflowv1.Record) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch rec.GetRec().(type) {
	case *sysflowv1.Record_Process, *sysflowv1.Record_File, *sysflowv1.Record_Container, *sysflowv1.Record_Pod:
		// Sources may reuse what they emitted: the table keeps a copy.
		p.ents.Put(proto.CloneOf(rec))
		return false
	}
	if p.set == nil {
		return false
	}
	// The window stamps the envelope later; rules may read the node already.
	rec.NodeId, rec.AgentId = p.nodeID, p.agentID
	drop := false
	p.ev.Eval(p.set, rec, p.ents, func(r *engine.Rule) {
		if r.Actions&engine.ActionDrop != 0 {
			drop = true
		}
	})
	if drop {
		p.dropped.Add(1)
	}
	return drop
}

// fill sets the edge policy's fields of s.
func (p *edgePolicy) fill(s *agentv1.Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.EdgeDroppedRecords = p.dropped.Load()
	s.EdgePolicyVersion = p.version
	s.EdgeRuleCount = int64(p.rules)
	s.EdgePolicyError = p.err
}

// Changed returns a channel closed when a policy is applied or refused.
func (p *edgePolicy) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

package sysflux

import (
	"slices"
	"strings"
	"sync"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// mark is a place in one agent's delivery sequence.
type mark struct {
	epoch, seq int64
}

// after reports whether m comes after o: a later epoch, or the same epoch and a later seq.
func (m mark) after(o mark) bool {
	if m.epoch != o.epoch {
		return m.epoch > o.epoch
	}
	return m.seq > o.seq
}

// positions tracks the last position delivered for each agent. It is safe for concurrent use.
type positions struct {
	mu   sync.Mutex
	last map[string]mark
}

func newPositions() *positions {
	return &positions{last: make(map[string]mark)}
}

// merge raises the agents' positions to ps where ps come after what is known; positions of
// agents not in ps stay.
func (p *positions) merge(ps []*sysflowv1.Position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pos := range ps {
		m := mark{epoch: pos.GetEpoch(), seq: pos.GetSeq()}
		if old, ok := p.last[pos.GetAgentId()]; !ok || m.after(old) {
			p.last[pos.GetAgentId()] = m
		}
	}
}

// advance records r as delivered and reports true when r comes after its agent's position;
// otherwise it leaves the position and reports false.
func (p *positions) advance(r *sysflowv1.Record) bool {
	m := mark{epoch: r.GetEpoch(), seq: r.GetSeq()}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.last[r.GetAgentId()]; ok && !m.after(old) {
		return false
	}
	p.last[r.GetAgentId()] = m
	return true
}

// list returns a copy of the positions, sorted by agent id.
func (p *positions) list() []*sysflowv1.Position {
	p.mu.Lock()
	ps := make([]*sysflowv1.Position, 0, len(p.last))
	for agent, m := range p.last {
		ps = append(ps, &sysflowv1.Position{AgentId: agent, Epoch: m.epoch, Seq: m.seq})
	}
	p.mu.Unlock()
	slices.SortFunc(ps, func(a, b *sysflowv1.Position) int {
		return strings.Compare(a.GetAgentId(), b.GetAgentId())
	})
	return ps
}

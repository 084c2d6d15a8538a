package hub

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/encoding/protowire"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
	"github.com/sysflux/sysflux/hub/alert"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/entity"
)

// tagsField is the number of Record.tags, which tag rules append to a record's encoding.
const tagsField = 5

// policy evaluates every record the hub receives against the rules in force: it keeps each
// agent's entities, fires the matching rules' actions (alerts to the broker and Falcosidekick,
// tags appended to the record, drops), and counts what it did.
type policy struct {
	rules  *engine.Active
	broker *alert.Broker
	sender *alert.Sender // nil without Falcosidekick
	log    *slog.Logger

	mu     sync.Mutex
	agents map[string]*agentPolicy

	evaluated, alerts, dropped, tagged, decodeErrors atomic.Int64
	// evalNanos is the time spent inspecting batches.
	evalNanos atomic.Int64
	// batchSeconds is the time of each batch.
	batchSeconds prometheus.Histogram
}

// newBatchHistogram returns the histogram of the time the policy takes per batch of records.
func newBatchHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "sysflux", Subsystem: "hub", Name: "rule_evaluation_batch_seconds",
		Help:    "Time taken to evaluate the rules on one batch of records from an agent (up to 512 records by default).",
		Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10), // 10 µs to 2.6 s
	})
}

// agentPolicy is the state of one agent's stream: its entities and an evaluator. A stream
// inspects one batch at a time, so it needs no lock of its own.
type agentPolicy struct {
	ents *entity.Table
	ev   *engine.Evaluator
	rec  sysflowv1.Record
}

func (p *policy) agent(id string) *agentPolicy {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.agents[id]
	if a == nil {
		a = &agentPolicy{ents: entity.New(0), ev: engine.NewEvaluator()}
		p.agents[id] = a
	}
	return a
}

// inspect is the fan-in's Inspect hook.
func (p *policy) inspect(hello *agentv1.Hello, entries []ring.Entry) {
	start := time.Now()
	defer func() {
		d := time.Since(start)
		p.evalNanos.Add(int64(d))
		p.batchSeconds.Observe(d.Seconds())
	}()
	set := p.rules.Set()
	a := p.agent(hello.GetAgentId())
	for i := range entries {
		e := &entries[i]
		a.rec.Reset()
		if err := ring.Decode(e.Raw, &a.rec); err != nil {
			p.decodeErrors.Add(1)
			p.log.Warn("undecodable record; passed on unchecked", "agent", e.AgentID, "seq", e.Seq, "err", err)
			continue
		}
		if a.ents.Put(&a.rec) {
			continue // entities are kept for the records that reference them
		}
		p.evaluated.Add(1)
		var tags []string
		drop := false
		a.ev.Eval(set, &a.rec, a.ents, func(r *engine.Rule) {
			if r.Actions&engine.ActionAlert != 0 {
				it := alert.Item{Alert: r.Alert(&a.ev.Event), AgentID: e.AgentID, Epoch: e.Epoch, Seq: e.Seq}
				p.alerts.Add(1)
				p.broker.Publish(it)
				if p.sender != nil {
					p.sender.Enqueue(it)
				}
			}
			if r.Actions&engine.ActionTag != 0 {
				tags = append(tags, r.Tags...)
			}
			if r.Actions&engine.ActionDrop != 0 {
				drop = true
			}
		})
		switch {
		case drop:
			e.Dropped = true
			p.dropped.Add(1)
		case len(tags) > 0:
			// Fields may come in any order: appending Record.tags to the encoding tags the
			// record without encoding it again.
			raw := append([]byte(nil), e.Raw...)
			for _, t := range tags {
				raw = protowire.AppendTag(raw, tagsField, protowire.BytesType)
				raw = protowire.AppendString(raw, t)
			}
			e.Raw = raw
			p.tagged.Add(1)
		}
	}
}

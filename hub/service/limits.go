package service

import (
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sysflux/sysflux/hub/ring"
)

// The defaults of Config's limits.
const (
	// DefaultMaxSubscribers is how many subscriptions a hub serves at once by default.
	DefaultMaxSubscribers = 256
	// DefaultMaxFilterBytes is the default bound on a filter's text.
	DefaultMaxFilterBytes = 64 << 10
	// DefaultMaxFilterCost is the default bound on what evaluating a filter on one record may
	// cost, in CEL's cost units (package engine): about 1 ms of one core, measured, and six
	// times what the costliest of Falco's default rules may cost (42,008, "Search Private Keys
	// or Passwords"), so that a filter may combine several of them.
	DefaultMaxFilterCost = 250_000
	// DefaultMaxRequestBytes is the default bound on a request message: grpc-go's own.
	DefaultMaxRequestBytes = 4 << 20
	// DefaultMaxResponseBytes is the default bound on a response message. Query pages and
	// Subscribe batches are cut to fit it.
	DefaultMaxResponseBytes = 16 << 20
	// DefaultMaxBatchBytes is the default bound on one batch of records of a subscription: well
	// within grpc-go's default bound on what a client receives (4 MiB).
	DefaultMaxBatchBytes = 1 << 20
)

// withDefaults returns cfg with its zero limits set to their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.ReadBatch <= 0 {
		cfg.ReadBatch = 1024
	}
	if cfg.MaxSubscribers <= 0 {
		cfg.MaxSubscribers = DefaultMaxSubscribers
	}
	if cfg.MaxFilterBytes <= 0 {
		cfg.MaxFilterBytes = DefaultMaxFilterBytes
	}
	if cfg.MaxFilterCost == 0 {
		cfg.MaxFilterCost = DefaultMaxFilterCost
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	// A batch's JSON encoding (base64, field names) may be a few times its binary one.
	cfg.MaxBatchBytes = min(cfg.MaxBatchBytes, cfg.MaxResponseBytes/4)
	return cfg
}

// maxRecordBytes is the largest record a subscription sends: one that fits alone in a batch
// of the largest response.
func (cfg Config) maxRecordBytes() int {
	// A SubscribeResponse holding a RecordBatch holding the record: two tags and two lengths.
	return cfg.MaxResponseBytes - 2*(protowire.SizeTag(1)+protowire.SizeVarint(uint64(cfg.MaxResponseBytes)))
}

// Stats are the service's counts since it started.
type Stats struct {
	// Subscribers is the number of subscriptions being served.
	Subscribers int64
	// SubscriptionsRefused counts the subscriptions refused because MaxSubscribers were being
	// served.
	SubscriptionsRefused int64
	// RecordsSent counts the records sent to subscribers, and RecordsSentByType the same by
	// record type.
	RecordsSent       int64
	RecordsSentByType ring.ByType
	// RecordsLost counts the records subscribers lost, each told in its stream
	// (SubscribeResponse.lost): records a subscription fell further behind than the hub's ring
	// holds, and records too large to send.
	RecordsLost int64
	// AlertsSent and AlertsLost count the same of alerts.
	AlertsSent, AlertsLost int64
	// FiltersRefused counts the filters of Subscribe, Query and Export requests that did not
	// compile, whatever the reason; FiltersOverCost counts those of them refused because
	// evaluating them might cost more than MaxFilterCost.
	FiltersRefused, FiltersOverCost int64
	// FilterEvaluationsStopped counts the evaluations of CEL filters that MaxFilterCost
	// stopped at run time, on records with values longer than the estimate assumes: the
	// records did not match.
	FilterEvaluationsStopped int64
}

// counters are the service's Stats, updated as it works.
type counters struct {
	subscribers, subscriptionsRefused atomic.Int64
	recordsSent, recordsLost          atomic.Int64
	sentByType                        ring.TypeCounts
	alertsSent, alertsLost            atomic.Int64
	filtersRefused, filtersOverCost   atomic.Int64
	evaluationsStopped                atomic.Int64
}

// Stats returns the service's counts. It is safe for concurrent use.
func (s *Service) Stats() Stats {
	c := &s.counts
	return Stats{
		RecordsSentByType:        c.sentByType.Load(),
		Subscribers:              c.subscribers.Load(),
		SubscriptionsRefused:     c.subscriptionsRefused.Load(),
		RecordsSent:              c.recordsSent.Load(),
		RecordsLost:              c.recordsLost.Load(),
		AlertsSent:               c.alertsSent.Load(),
		AlertsLost:               c.alertsLost.Load(),
		FiltersRefused:           c.filtersRefused.Load(),
		FiltersOverCost:          c.filtersOverCost.Load(),
		FilterEvaluationsStopped: c.evaluationsStopped.Load(),
	}
}

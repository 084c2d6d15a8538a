package fanin

import (
	"context"
	"log/slog"

	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
)

// pushEdgePolicy sends the edge policy to an agent, and again whenever it changes, until ctx
// ends or a send fails (the stream is then broken, which its receiver finds out).
func (f *Fanin) pushEdgePolicy(ctx context.Context, send func(*agentv1.StreamRecordsRequest) error, log *slog.Logger) {
	var sent *agentv1.EdgePolicy
	for {
		p, changed := f.cfg.EdgePolicy()
		if p != nil && p != sent {
			msg := &agentv1.StreamRecordsRequest{Message: &agentv1.StreamRecordsRequest_EdgePolicy{EdgePolicy: p}}
			if err := send(msg); err != nil {
				log.Debug("edge policy not sent", "version", p.GetVersion(), "err", err)
				return
			}
			sent = p
			log.Debug("edge policy sent", "version", p.GetVersion())
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

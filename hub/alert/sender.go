package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// SenderConfig configures a Sender.
type SenderConfig struct {
	// URL is Falcosidekick's address, as Falco's http_output takes it (http://host:2801/).
	URL string
	// Queue bounds the alerts waiting to be sent, besides the one being posted; zero means
	// 10,000. When it is full the oldest waiting alert is dropped and counted.
	Queue int
	// Timeout bounds one POST; zero means 5 seconds.
	Timeout time.Duration
	// MaxRetry bounds how long one alert is retried before it is dropped; zero means one minute.
	MaxRetry time.Duration
	// Client is the HTTP client; nil means a default one.
	Client *http.Client
	// Logger receives the sender's logs; nil discards them.
	Logger *slog.Logger
}

// Sender posts alerts to Falcosidekick, one JSON object per request as Falco does, in order,
// retrying with backoff while the endpoint is down or failing.
type Sender struct {
	cfg  SenderConfig
	log  *slog.Logger
	mu   sync.Mutex
	q    []Item
	wake chan struct{}
	// posting is whether Run holds an alert off the queue, posting it: it is counted sent or
	// dropped once, when Run is done with it, never dropped by Enqueue.
	posting bool

	sent, dropped, failures atomic.Int64
}

// NewSender returns a Sender; it sends once Run runs.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.Queue <= 0 {
		cfg.Queue = 10_000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxRetry <= 0 {
		cfg.MaxRetry = time.Minute
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{cfg: cfg, log: log, wake: make(chan struct{}, 1)}
}

// Enqueue queues an alert, dropping the oldest queued one when the queue is full. It never
// blocks.
func (s *Sender) Enqueue(it Item) {
	s.mu.Lock()
	if len(s.q) >= s.cfg.Queue {
		s.q = s.q[1:]
		s.dropped.Add(1)
	}
	s.q = append(s.q, it)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stats returns the alerts sent, dropped (queue full or retries exhausted), and failed
// attempts.
func (s *Sender) Stats() (sent, dropped, failures int64) {
	return s.sent.Load(), s.dropped.Load(), s.failures.Load()
}

// Queued returns the number of alerts waiting, the one being posted included.
func (s *Sender) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.posting {
		return len(s.q) + 1
	}
	return len(s.q)
}

// Run sends queued alerts until ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	for {
		s.mu.Lock()
		var it Item
		ok := len(s.q) > 0
		if ok {
			it, s.q, s.posting = s.q[0], s.q[1:], true
		}
		s.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-s.wake:
				continue
			}
		}
		body, err := json.Marshal(it.Alert)
		if err == nil {
			_, err = backoff.Retry(ctx, func() (struct{}, error) {
				err := s.post(ctx, body)
				if err != nil {
					s.failures.Add(1)
					s.log.Warn("posting an alert to Falcosidekick failed; retrying", "url", s.cfg.URL, "rule", it.Rule, "err", err)
				}
				return struct{}{}, err
			}, backoff.WithBackOff(&backoff.ExponentialBackOff{
				InitialInterval: 100 * time.Millisecond, RandomizationFactor: 0.2, Multiplier: 2, MaxInterval: 5 * time.Second,
			}), backoff.WithMaxElapsedTime(s.cfg.MaxRetry))
		}
		s.mu.Lock()
		s.posting = false
		s.mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.dropped.Add(1)
			s.log.Error("alert dropped: Falcosidekick did not take it", "url", s.cfg.URL, "rule", it.Rule, "err", err)
			continue
		}
		s.sent.Add(1)
	}
}

func (s *Sender) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return backoff.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sysflux")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", s.cfg.URL, resp.Status)
	}
	return nil
}

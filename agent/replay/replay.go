// Package replay feeds recorded SysFlow records to an agent: SysFlow Avro trace files, as the
// SysFlow collector writes them, or records already in memory.
package replay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// File replays a SysFlow Avro object container file.
type File struct {
	// Path is the file to read.
	Path string
	// Rate is the most records emitted per second; zero emits as fast as the agent takes them.
	Rate float64
}

// Check opens the file and reads its header, so that a bad path or a file that is not a SysFlow
// trace is reported before anything runs.
func (f File) Check() error {
	fh, err := os.Open(f.Path)
	if err != nil {
		return err
	}
	defer fh.Close()
	if _, err := sfavro.NewReader(bufio.NewReader(fh)); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	return nil
}

// Name returns the file's base name.
func (f File) Name() string { return "replay:" + filepath.Base(f.Path) }

// Run emits every record of the file in order.
func (f File) Run(ctx context.Context, emit func(context.Context, *sysflowv1.Record) error) error {
	fh, err := os.Open(f.Path)
	if err != nil {
		return err
	}
	defer fh.Close()
	r, err := sfavro.NewReader(bufio.NewReaderSize(fh, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	pace := newPacer(f.Rate)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		if err := pace.wait(ctx); err != nil {
			return err
		}
		if err := emit(ctx, rec); err != nil {
			return err
		}
	}
}

// Records replays records held in memory, Loops times (at least once). The records' envelope
// fields are overwritten by the agent as they are emitted.
type Records struct {
	// Label names the source in logs.
	Label string
	// Records are emitted in order.
	Records []*sysflowv1.Record
	// Loops is how many times the records are emitted; zero means once.
	Loops int
}

// Name returns the label.
func (r Records) Name() string { return "records:" + r.Label }

// Run emits the records.
func (r Records) Run(ctx context.Context, emit func(context.Context, *sysflowv1.Record) error) error {
	for range max(r.Loops, 1) {
		for _, rec := range r.Records {
			if err := emit(ctx, rec); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// pacer spaces records to a rate.
type pacer struct {
	every time.Duration
	next  time.Time
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return &pacer{}
	}
	return &pacer{every: time.Duration(float64(time.Second) / rate)}
}

func (p *pacer) wait(ctx context.Context) error {
	if p.every == 0 {
		return nil
	}
	now := time.Now()
	if p.next.IsZero() || p.next.Before(now.Add(-time.Second)) {
		p.next = now
	}
	if d := p.next.Sub(now); d > time.Millisecond {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	p.next = p.next.Add(p.every)
	return nil
}

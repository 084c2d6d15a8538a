package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/hub/export"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/store"
	"github.com/sysflux/sysflux/policy/field"
)

const (
	// exportChunkBytes is about the most file bytes sent in one ExportChunk.
	exportChunkBytes = 1 << 20
	// exportProgressEvery is how often an export reports its progress.
	exportProgressEvery = 250 * time.Millisecond
)

// newExport validates an ExportRequest: it returns what the export selects and how long a
// file may last.
func (s *Service) newExport(q *hubv1.ExportRequest) (*selection, time.Duration, error) {
	if q.GetMaxFileBytes() < 0 {
		return nil, 0, fmt.Errorf("max_file_bytes: %d is negative", q.GetMaxFileBytes())
	}
	var maxDur time.Duration
	if d := q.GetMaxFileDuration(); d != nil {
		if err := d.CheckValid(); err != nil {
			return nil, 0, fmt.Errorf("max_file_duration: %w", err)
		}
		if maxDur = d.AsDuration(); maxDur < 0 {
			return nil, 0, fmt.Errorf("max_file_duration: %v is negative", maxDur)
		}
	}
	sel, err := s.newSelection(q.GetStartTime(), q.GetEndTime(), q.GetNodeIds(), q.GetRecordTypes(), q.GetFilter(), q.GetFilterLanguage())
	if err != nil {
		return nil, 0, err
	}
	return sel, maxDur, nil
}

// Export streams stored records as SysFlow files.
func (s *Service) Export(ctx context.Context, req *connect.Request[hubv1.ExportRequest], stream *connect.ServerStream[hubv1.ExportResponse]) error {
	if s.cfg.Store == nil {
		return errNoStore
	}
	q := req.Msg
	sel, maxDur, err := s.newExport(q)
	if err != nil {
		return invalidArgument(err)
	}
	defer sel.close()
	defer func() {
		if sel.filter != nil {
			s.counts.evaluationsStopped.Add(sel.filter.ev.Stopped())
		}
	}()
	// A chunk's data, with the rest of its message, fits the largest response.
	chunk := min(exportChunkBytes, s.cfg.MaxResponseBytes-queryOverheadBytes)
	out := &exportStream{stream: stream, bufs: map[int]*hubv1.ExportChunk{}, max: chunk}
	x := export.New(export.Config{
		Entities:        func(node string) field.Entities { return sel.entities(node) },
		MaxFileBytes:    q.GetMaxFileBytes(),
		MaxFileDuration: maxDur,
		Exporter:        q.GetExporter(),
		Sink:            out.chunk,
	})
	progress := &hubv1.ExportProgress{}
	if oldest, newest, ok := s.cfg.Store.Bounds(); ok {
		progress.StartTime = timestamppb.New(time.Unix(0, max(oldest, sel.rg.Start)))
		progress.EndTime = timestamppb.New(time.Unix(0, min(newest, sel.rg.End)))
	}
	next := time.Now().Add(exportProgressEvery)
	var scanned int64
	err = s.cfg.Store.Scan(ctx, sel.rg, func(it *store.Item) (bool, error) {
		scanned++
		if scanned&1023 == 0 && time.Now().After(next) {
			next = time.Now().Add(exportProgressEvery)
			progress.ScannedRecords, progress.WrittenRecords = scanned, x.Stats().Written
			progress.Time = timestamppb.New(time.Unix(0, it.Time))
			if err := stream.Send(&hubv1.ExportResponse{Item: &hubv1.ExportResponse_Progress{Progress: progress}}); err != nil {
				return false, err
			}
		}
		matched, rec := sel.match(it)
		if !matched {
			return true, nil
		}
		if rec == nil {
			rec = new(sysflowv1.Record)
			if err := ring.Decode(it.Raw, rec); err != nil {
				return false, fmt.Errorf("stored record %s/%d/%d: %w", it.AgentID, it.Epoch, it.Seq, err)
			}
		}
		return true, x.Add(rec)
	})
	if err == nil {
		err = x.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return connect.NewError(connect.CodeCanceled, ctx.Err())
		}
		var cerr *connect.Error
		if errors.As(err, &cerr) {
			return err
		}
		return connect.NewError(connect.CodeInternal, err)
	}
	st := x.Stats()
	return stream.Send(&hubv1.ExportResponse{Item: &hubv1.ExportResponse_Summary{Summary: &hubv1.ExportSummary{
		WrittenRecords: st.Written, SkippedRecords: st.Skipped, Files: int32(st.Files),
		WrittenBytes: st.Bytes, ScannedRecords: scanned,
	}}})
}

// exportStream gathers an Exporter's chunks into ExportChunks of max bytes of data at most,
// sent once they have as many, or at the end of their file.
type exportStream struct {
	stream *connect.ServerStream[hubv1.ExportResponse]
	bufs   map[int]*hubv1.ExportChunk // the unsent bytes of each open file
	max    int
}

func (e *exportStream) chunk(c export.Chunk) error {
	b := e.bufs[c.File]
	if b == nil {
		b = &hubv1.ExportChunk{FileIndex: int32(c.File), NodeId: c.Node, FileStartTime: timestamppb.New(time.Unix(0, c.Start))}
		e.bufs[c.File] = b
	}
	b.Data = append(b.Data, c.Data...)
	if len(b.Data) < e.max && !c.End {
		return nil
	}
	if c.End {
		delete(e.bufs, c.File)
	}
	return e.send(b)
}

// send sends the data of b, in chunks of at most max bytes.
func (e *exportStream) send(b *hubv1.ExportChunk) error {
	data := b.Data
	for len(data) > 0 {
		n := min(len(data), e.max)
		part := &hubv1.ExportChunk{FileIndex: b.FileIndex, NodeId: b.NodeId, FileStartTime: b.FileStartTime, Data: data[:n]}
		if err := e.stream.Send(&hubv1.ExportResponse{Item: &hubv1.ExportResponse_Chunk{Chunk: part}}); err != nil {
			return err
		}
		data = data[n:]
	}
	b.Data = b.Data[:0]
	return nil
}

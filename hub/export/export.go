// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package export

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/field"
)

// An Encoder writes records to one SysFlow file; *sfavro.Writer satisfies it. An Encoder refuses
// a record that SysFlow v5 cannot hold with an error wrapping sfavro.ErrNotRepresentable, and
// the file stays valid.
type Encoder interface {
	// Write adds a record to the file.
	Write(rec *sysflowv1.Record) error
	// Flush writes the buffered records to the underlying writer.
	Flush() error
	// Close flushes, and ends the file. It does not close the underlying writer.
	Close() error
	// Written returns the number of records written and of bytes passed to the underlying
	// writer so far.
	Written() (records, bytes int64)
}

// Config configures an Exporter.
type Config struct {
	// Entities returns what resolves the entities of a node's records: processes by OID, files
	// by their 20-byte OID, containers and pods by id. It is called when a file starts, and
	// what it returns serves that file. Nil, or a nil result, resolves nothing.
	Entities func(node string) field.Entities
	// MaxFileBytes ends a file once it holds about this many bytes: the node's next record
	// starts a new file. A file's header alone takes about 6 KB. Zero means no limit.
	MaxFileBytes int64
	// MaxFileDuration ends a file once it holds a record this much later than its start
	// (Chunk.Start, or the time of its first record that has one). Records earlier than the
	// start do not count. Zero means no limit.
	MaxFileDuration time.Duration
	// Exporter is the exporter named in each file's SFHeader; empty names the file's node.
	Exporter string
	// NewEncoder returns an Encoder that writes one file to w. Nil means sfavro.NewWriter with
	// its default options.
	NewEncoder func(w io.Writer) (Encoder, error)
	// Sink receives the bytes of every file, in order, chunk by chunk; the chunks of files of
	// different nodes interleave. An error ends the export: every later call of the Exporter
	// returns it. Nil discards the bytes.
	Sink func(Chunk) error
}

// A Chunk is a piece of a file, passed to Config.Sink.
type Chunk struct {
	// File numbers the file among those of the Exporter, from 0, in the order they started.
	File int
	// Node is the node whose records the file holds.
	Node string
	// Start is the time of the record that started the file, in nanoseconds since the Unix
	// epoch. For a record without a time of its own (a container), it is the time of the last
	// record of the node that has one, as the hub's store orders records; 0 if there is none.
	Start int64
	// Data is the next piece of the file. It is valid only during the call to Sink.
	Data []byte
	// End marks the file's last chunk, which holds no Data: the file is complete.
	End bool
}

// Stats counts what an Exporter did.
type Stats struct {
	// Written is the number of records written to files: those added, each file's SFHeader, and
	// the entities written ahead of the records that reference them.
	Written int64
	// Skipped is the number of records left out because SysFlow v5 cannot hold them.
	Skipped int64
	// Unresolved is the number of references to entities that could not be resolved, and so
	// were not written ahead of the records that reference them.
	Unresolved int64
	// Files is the number of files started.
	Files int64
	// Bytes is the number of bytes passed to Config.Sink.
	Bytes int64
}

// maxAncestors bounds the ancestors written ahead of a process, as policy/field bounds the
// lineage it follows; it also ends a walk up a loop of parents in bad data.
const maxAncestors = 64

// guessBytesPerRecord stands for the compressed size of a record in a file that has written no
// block yet, when the Exporter estimates whether a file is full. SysFlow's traces take 20 to 50
// bytes per record.
const guessBytesPerRecord = 32

// An Exporter writes the records added to it to SysFlow files, one open file per node. It is not
// safe for concurrent use. It keeps the entity messages it writes for as long as their file is
// open; callers must not modify records after adding them.
type Exporter struct {
	cfg   Config
	open  map[string]*file // the open file of each node
	last  map[string]int64 // the time of each node's last record that has one
	next  int              // the number of the next file
	stats Stats
	err   error // sticky: an error of the Sink or an Encoder, or errClosed
	chain []*sysflowv1.Process
	// sinkMu serializes the calls of the Sink and the count of bytes: each file's encoder may
	// write its blocks from a goroutine of its own.
	sinkMu sync.Mutex
}

var errClosed = errors.New("exporter closed")

// file is one open file.
type file struct {
	x      *Exporter
	index  int
	node   string
	start  int64 // Chunk.Start
	ents   field.Entities
	enc    Encoder
	held   held
	first  int64 // start, or the time of the file's first record that has one
	header int64 // bytes of the encoder's header
	// Records and bytes the encoder had written when its byte count last changed.
	flushedRecords, flushedBytes int64
}

// procKey identifies a process by its OID.
type procKey struct{ createTS, hpid int64 }

func keyOf(oid *sysflowv1.OID) procKey {
	return procKey{createTS: oid.GetCreateTs(), hpid: oid.GetHpid()}
}

// held holds the entities a file has written, each in the version written last.
type held struct {
	procs      map[procKey]*sysflowv1.Process
	files      map[string]*sysflowv1.File // by OID
	containers map[string]*sysflowv1.Container
	pods       map[string]*sysflowv1.Pod
}

// New returns an Exporter. Call Close to finish its files.
func New(cfg Config) *Exporter {
	if cfg.NewEncoder == nil {
		cfg.NewEncoder = func(w io.Writer) (Encoder, error) {
			return sfavro.NewWriter(w, sfavro.WriterOptions{})
		}
	}
	return &Exporter{cfg: cfg, open: make(map[string]*file), last: make(map[string]int64)}
}

// Add writes rec to the open file of its node (rec.NodeId), starting one if there is none, and
// writes ahead of it the entities it references that the file does not hold. An entity record
// (process, file, container, pod) is left out when the file holds the same version already; an
// SFHeader is left out, as each file has its own; a record SysFlow v5 cannot hold is left out and
// counted in Stats.Skipped. When the file has reached Config.MaxFileBytes or
// Config.MaxFileDuration, Add finishes it, and the node's next record starts a new file.
//
// The error of Add is that of the Sink or the Encoder; once there is one, every later call
// returns it.
func (x *Exporter) Add(rec *sysflowv1.Record) error {
	if x.err != nil {
		return x.err
	}
	if sfavro.TypeOf(rec) == sysflowv1.RecordType_RECORD_TYPE_HEADER {
		return nil
	}
	node := rec.GetNodeId()
	t := field.Time(rec)
	if t != 0 {
		x.last[node] = t
	}
	f := x.open[node]
	if f == nil {
		var err error
		if f, err = x.start(node, x.last[node]); err != nil {
			return x.fail(err)
		}
		x.open[node] = f
	}
	if err := f.add(rec); err != nil {
		return x.fail(err)
	}
	full, err := f.full(t)
	if err != nil {
		return x.fail(err)
	}
	if full {
		delete(x.open, node)
		if err := f.finish(); err != nil {
			return x.fail(err)
		}
	}
	return nil
}

func (x *Exporter) fail(err error) error {
	x.err = err
	return err
}

// Close finishes every open file. Later calls to Add return an error.
func (x *Exporter) Close() error {
	files := slices.SortedFunc(maps.Values(x.open), func(a, b *file) int {
		return cmp.Compare(a.index, b.index)
	})
	clear(x.open)
	var errs []error
	if x.err != nil && x.err != errClosed {
		errs = append(errs, x.err)
	}
	for _, f := range files {
		if err := f.finish(); err != nil && (x.err == nil || !errors.Is(err, x.err)) {
			errs = append(errs, err)
		}
	}
	if x.err == nil {
		x.err = errClosed
	}
	return errors.Join(errs...)
}

// Stats returns what the Exporter did so far.
func (x *Exporter) Stats() Stats {
	x.sinkMu.Lock()
	defer x.sinkMu.Unlock()
	return x.stats
}

// start starts a file for node with its SFHeader, at time start.
func (x *Exporter) start(node string, start int64) (*file, error) {
	f := &file{
		x:     x,
		index: x.next,
		node:  node,
		start: start,
		first: start,
		held: held{
			procs:      make(map[procKey]*sysflowv1.Process),
			files:      make(map[string]*sysflowv1.File),
			containers: make(map[string]*sysflowv1.Container),
			pods:       make(map[string]*sysflowv1.Pod),
		},
	}
	x.next++
	x.stats.Files++
	if x.cfg.Entities != nil {
		f.ents = x.cfg.Entities(node)
	}
	enc, err := x.cfg.NewEncoder(sink{f})
	if err != nil {
		return nil, fmt.Errorf("start file %d of node %q: %w", f.index, node, err)
	}
	f.enc = enc
	_, f.header = enc.Written()
	f.flushedBytes = f.header
	exporter := x.cfg.Exporter
	if exporter == "" {
		exporter = node
	}
	hdr := &sysflowv1.Record{Rec: &sysflowv1.Record_Header{Header: &sysflowv1.SFHeader{
		Version: 5, Exporter: exporter, Ip: "NA",
	}}}
	if _, err := f.write(hdr); err != nil {
		return nil, err
	}
	return f, nil
}

// sink is the io.Writer of a file's Encoder: it passes the bytes to Config.Sink.
type sink struct{ f *file }

func (s sink) Write(p []byte) (int, error) {
	x := s.f.x
	x.sinkMu.Lock()
	defer x.sinkMu.Unlock()
	if x.cfg.Sink != nil {
		c := Chunk{File: s.f.index, Node: s.f.node, Start: s.f.start, Data: p}
		if err := x.cfg.Sink(c); err != nil {
			return 0, err
		}
	}
	x.stats.Bytes += int64(len(p))
	return len(p), nil
}

// finish closes the file's encoder and passes the file's last chunk.
func (f *file) finish() error {
	if err := f.enc.Close(); err != nil {
		return fmt.Errorf("finish file %d of node %q: %w", f.index, f.node, err)
	}
	if sinkFn := f.x.cfg.Sink; sinkFn != nil {
		f.x.sinkMu.Lock()
		defer f.x.sinkMu.Unlock()
		if err := sinkFn(Chunk{File: f.index, Node: f.node, Start: f.start, End: true}); err != nil {
			return err
		}
	}
	return nil
}

// write writes rec, and reports whether the encoder took it.
func (f *file) write(rec *sysflowv1.Record) (bool, error) {
	err := f.enc.Write(rec)
	if errors.Is(err, sfavro.ErrNotRepresentable) {
		f.x.stats.Skipped++
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write to file %d of node %q: %w", f.index, f.node, err)
	}
	f.x.stats.Written++
	return true, nil
}

// writeEntity writes rec, whose payload is the entity v, and keeps v in m under k, unless m
// holds an equal version.
func writeEntity[K comparable, V proto.Message](f *file, m map[K]V, k K, v V,
	rec *sysflowv1.Record) error {
	if old, ok := m[k]; ok && proto.Equal(old, v) {
		return nil
	}
	ok, err := f.write(rec)
	if ok {
		m[k] = v
	}
	return err
}

// add writes rec after the entities it references.
func (f *file) add(rec *sysflowv1.Record) error {
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_Process:
		p := r.Process
		if p.GetOid() == nil {
			break // not representable; write counts it
		}
		if err := f.needProcess(p.GetPoid()); err != nil {
			return err
		}
		if err := f.needContainer(p.ContainerId); err != nil {
			return err
		}
		return writeEntity(f, f.held.procs, keyOf(p.GetOid()), p, rec)
	case *sysflowv1.Record_File:
		if r.File == nil {
			break
		}
		if err := f.needContainer(r.File.ContainerId); err != nil {
			return err
		}
		return writeEntity(f, f.held.files, string(r.File.GetOid()), r.File, rec)
	case *sysflowv1.Record_Container:
		if r.Container == nil {
			break
		}
		if err := f.needPod(r.Container.PodId); err != nil {
			return err
		}
		return writeEntity(f, f.held.containers, r.Container.GetId(), r.Container, rec)
	case *sysflowv1.Record_Pod:
		if r.Pod == nil {
			break
		}
		return writeEntity(f, f.held.pods, r.Pod.GetId(), r.Pod, rec)
	}
	// An event or flow: its process, then its files.
	if err := f.needProcess(field.ProcOID(rec)); err != nil {
		return err
	}
	file, newFile := field.FileOIDs(rec)
	for _, oid := range [][]byte{file, newFile} {
		if len(oid) == 0 {
			continue
		}
		if err := f.needFile(oid); err != nil {
			return err
		}
	}
	_, err := f.write(rec)
	return err
}

// needProcess writes the process with oid, unless the file holds it, after its ancestors, oldest
// first, and the containers of each. A nil oid needs nothing.
func (f *file) needProcess(oid *sysflowv1.OID) error {
	x := f.x
	chain := x.chain[:0]
	for o := oid; o != nil && len(chain) < maxAncestors; {
		if _, ok := f.held.procs[keyOf(o)]; ok {
			break
		}
		var p *sysflowv1.Process
		if f.ents != nil {
			p = f.ents.Process(o)
		}
		if p == nil || p.GetOid() == nil {
			x.stats.Unresolved++
			break
		}
		chain = append(chain, p)
		o = p.GetPoid()
	}
	x.chain = chain[:0]
	for i := len(chain) - 1; i >= 0; i-- {
		p := chain[i]
		k := keyOf(p.GetOid())
		if _, ok := f.held.procs[k]; ok {
			continue // a loop of parents
		}
		if err := f.needContainer(p.ContainerId); err != nil {
			return err
		}
		rec := &sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: p}}
		if err := writeEntity(f, f.held.procs, k, p, rec); err != nil {
			return err
		}
	}
	return nil
}

// needContainer writes the container with id, unless the file holds it, after its pod. A nil
// id (a process or file on the host) needs nothing.
func (f *file) needContainer(id *string) error {
	if id == nil {
		return nil
	}
	if _, ok := f.held.containers[*id]; ok {
		return nil
	}
	var c *sysflowv1.Container
	if f.ents != nil {
		c = f.ents.Container(*id)
	}
	if c == nil {
		f.x.stats.Unresolved++
		return nil
	}
	if err := f.needPod(c.PodId); err != nil {
		return err
	}
	rec := &sysflowv1.Record{Rec: &sysflowv1.Record_Container{Container: c}}
	return writeEntity(f, f.held.containers, *id, c, rec)
}

// needPod writes the pod with id, unless the file holds it. A nil id needs nothing.
func (f *file) needPod(id *string) error {
	if id == nil {
		return nil
	}
	if _, ok := f.held.pods[*id]; ok {
		return nil
	}
	var p *sysflowv1.Pod
	if f.ents != nil {
		p = f.ents.Pod(*id)
	}
	if p == nil {
		f.x.stats.Unresolved++
		return nil
	}
	rec := &sysflowv1.Record{Rec: &sysflowv1.Record_Pod{Pod: p}}
	return writeEntity(f, f.held.pods, *id, p, rec)
}

// needFile writes the file with oid, unless the file holds it, after its container.
func (f *file) needFile(oid []byte) error {
	if _, ok := f.held.files[string(oid)]; ok {
		return nil
	}
	var fl *sysflowv1.File
	if f.ents != nil {
		fl = f.ents.File(oid)
	}
	if fl == nil {
		f.x.stats.Unresolved++
		return nil
	}
	if err := f.needContainer(fl.ContainerId); err != nil {
		return err
	}
	rec := &sysflowv1.Record{Rec: &sysflowv1.Record_File{File: fl}}
	return writeEntity(f, f.held.files, string(oid), fl, rec)
}

// full reports whether the file has reached Config.MaxFileBytes or Config.MaxFileDuration, after
// a record with time t (0 if it has none) was added.
//
// The encoder's byte count lags behind the records it buffers, so the file estimates its size
// as the bytes written plus the records buffered at the file's bytes per record so far, and
// flushes once that estimate reaches the limit to learn the real size.
func (f *file) full(t int64) (bool, error) {
	cfg := &f.x.cfg
	if t != 0 {
		if f.first == 0 {
			f.first = t
		}
		if cfg.MaxFileDuration > 0 && t-f.first >= int64(cfg.MaxFileDuration) {
			return true, nil
		}
	}
	if cfg.MaxFileBytes <= 0 {
		return false, nil
	}
	n, b := f.enc.Written()
	if b != f.flushedBytes {
		f.flushedRecords, f.flushedBytes = n, b
	}
	per := int64(guessBytesPerRecord)
	if f.flushedRecords > 0 && f.flushedBytes > f.header {
		per = (f.flushedBytes - f.header + f.flushedRecords - 1) / f.flushedRecords
	}
	if b+(n-f.flushedRecords)*per < cfg.MaxFileBytes {
		return false, nil
	}
	if n > f.flushedRecords {
		if err := f.enc.Flush(); err != nil {
			return false, fmt.Errorf("flush file %d of node %q: %w", f.index, f.node, err)
		}
		n, b = f.enc.Written()
		f.flushedRecords, f.flushedBytes = n, b
	}
	return b >= cfg.MaxFileBytes, nil
}

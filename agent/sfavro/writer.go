// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// v5Source is SysFlow's schema version 5, SysFlow.avsc of SysFlow's repository byte for byte.
//
//go:embed SysFlow.avsc
var v5Source []byte

// v5Schema is v5Source without the whitespace between its JSON tokens: the same schema, as the
// SysFlow collector stores it in its files (in about 6 KB rather than 11). A Writer stores it in
// every file as the avro.schema metadata.
var v5Schema = func() []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, v5Source); err != nil {
		panic("SysFlow.avsc: " + err.Error())
	}
	return b.Bytes()
}()

// ErrNotRepresentable is wrapped by the error a Writer returns for a record that SysFlow v5
// cannot hold; the record is not written and the file stays valid.
var ErrNotRepresentable = errors.New("not representable in SysFlow v5")

// DefaultBlockRecords is the number of records a Writer puts in one Avro block when
// WriterOptions.BlockRecords is not positive. Measured on sfprocessor_k8s_small.sf
// (BenchmarkWriter), blocks of 4096 records take 13% fewer bytes than blocks of 256 records,
// about the 16 KiB of encoded records that the SysFlow collector puts in a block, and 2.4% fewer
// than blocks of 1024 records; they write about 15% and 5% slower than those, some 450,000
// records per second on one core, deflate included. One block for all 6173 records takes 0.6%
// fewer bytes again.
const DefaultBlockRecords = 4096

// smallBlockBytes is the size of encoded records under which a block is compressed at deflate's
// best level rather than its default: a small file's last (or only) block, where the best
// level saves about 1% for little time, and leaves it no larger than the SysFlow collector's
// (zlib's default level compresses such blocks about 1% better than Go's). Full blocks are
// compressed at the default level, twice as fast as the best one.
const smallBlockBytes = 256 << 10

// maxBlockBytes bounds the encoded records of one block, whatever their count, so that a block
// stays far below the MaxBlockSize a Reader accepts.
const maxBlockBytes = 4 << 20

// WriterOptions configures a Writer.
type WriterOptions struct {
	// BlockRecords is the number of records per Avro block: a Writer compresses and writes its
	// buffered records once it holds this many (or 4 MiB of encoded records). Larger blocks
	// compress better and delay records longer. Not positive means DefaultBlockRecords.
	BlockRecords int
}

// A Writer writes SysFlow records to an Avro object container file as the SysFlow collector does:
// schema version 5, every record a sysflow.SysFlow datum, blocks compressed with deflate. The
// file's avro.schema metadata is SysFlow.avsc of SysFlow's repository, without the whitespace
// between its JSON tokens, as the collector stores its schema.
//
// A Writer encodes records itself, about two and a half times as fast (deflate included) as
// ToNative and goavro's codec would. It encodes every record as goavro's codec for the same schema
// does, except that it writes map entries (a pod's labels and selectors) in key order where
// goavro writes them in Go's random map order.
//
// A Writer buffers records and writes each block to the underlying writer in one Write call. A
// full block is compressed and written on a goroutine of its own while the Writer encodes the
// next one; Flush and Close wait for it. A Writer is not safe for concurrent use.
type Writer struct {
	w       io.Writer
	maxRecs int
	sync    [16]byte
	block   []byte // the encoded records of the current block
	blockN  int    // records in block
	spare   []byte // a block buffer not in use
	zbuf    bytes.Buffer
	zw      *flate.Writer
	zwSmall *flate.Writer // for blocks under smallBlockBytes; nil until one is written
	out     []byte        // the current block as written: count, size, compressed records, sync marker
	records int64
	written atomic.Int64
	// pending, while a full block is written in the background, receives the block's buffer
	// and the error writing it when that is done.
	pending chan written
	err     error // sticky error of the underlying writer
	closed  bool
}

// written is a block written in the background: its buffer, for reuse, and the error writing it.
type written struct {
	block []byte
	err   error
}

var errClosed = errors.New("writer closed")

// NewWriter writes the header of a SysFlow file to w and returns a Writer for its records.
func NewWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	wr := &Writer{w: w, maxRecs: opts.BlockRecords}
	if wr.maxRecs <= 0 {
		wr.maxRecs = DefaultBlockRecords
	}
	if _, err := rand.Read(wr.sync[:]); err != nil {
		return nil, fmt.Errorf("make sync marker: %w", err)
	}
	zw, err := flate.NewWriter(&wr.zbuf, flate.DefaultCompression)
	if err != nil {
		return nil, err
	}
	wr.zw = zw
	if err := wr.emit(appendHeader(nil, wr.sync)); err != nil { // wr is not returned
		return nil, fmt.Errorf("write header: %w", err)
	}
	return wr, nil
}

// appendHeader appends an Avro object container file header: the magic bytes, the metadata
// (avro.codec and avro.schema) and the sync marker.
func appendHeader(b []byte, sync [16]byte) []byte {
	b = append(b, 'O', 'b', 'j', 1)
	b = appendLong(b, 2) // one block of metadata entries
	b = appendString(b, "avro.schema")
	b = appendBytes(b, v5Schema)
	b = appendString(b, "avro.codec")
	b = appendString(b, "deflate")
	b = appendLong(b, 0)
	return append(b, sync[:]...)
}

// Write adds rec to the file. A record that SysFlow v5 cannot hold returns an error wrapping
// ErrNotRepresentable and is not written: no payload, a required object id missing, a file object
// id that is not 20 bytes, an enum value SysFlow does not define, an IPv6 address (sip6, dip6).
// As with ToNative, the record's envelope and the fields that SysFlow lacks (a process's
// capabilities and loginuid) are dropped.
//
// Write writes a block to the underlying writer when the current block is full; an error doing
// so is returned by every later call.
func (w *Writer) Write(rec *sysflowv1.Record) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errClosed
	}
	b, err := appendRecord(w.block, rec)
	if err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	w.block = b
	w.blockN++
	w.records++
	if w.blockN >= w.maxRecs || len(w.block) >= maxBlockBytes {
		return w.handOff()
	}
	return nil
}

// handOff starts writing the current block in the background, once the one before is written.
func (w *Writer) handOff() error {
	if err := w.wait(); err != nil {
		return err
	}
	block, n := w.block, w.blockN
	w.block, w.blockN = w.spare[:0], 0
	done := make(chan written, 1)
	w.pending = done
	go func() {
		err := w.writeBlock(block, n) // touches no field the caller's side uses until wait
		done <- written{block, err}
	}()
	return nil
}

// wait waits for the block being written in the background, if any, and returns the Writer's
// error.
func (w *Writer) wait() error {
	if w.pending != nil {
		r := <-w.pending
		w.spare, w.pending = r.block[:0], nil
		if r.err != nil && w.err == nil {
			w.err = r.err
		}
	}
	return w.err
}

// Flush compresses the buffered records and writes them to the underlying writer as one block,
// if there are any, after the block being written in the background.
func (w *Writer) Flush() error {
	if err := w.wait(); err != nil {
		return err
	}
	if w.blockN == 0 {
		return nil
	}
	err := w.writeBlock(w.block, w.blockN)
	w.block, w.blockN = w.block[:0], 0
	if err != nil {
		w.err = err
	}
	return err
}

// writeBlock compresses n encoded records and writes them as one block. Only one block is
// written at a time.
func (w *Writer) writeBlock(block []byte, n int) error {
	w.zbuf.Reset()
	zw := w.zw
	if len(block) < smallBlockBytes {
		if w.zwSmall == nil {
			w.zwSmall, _ = flate.NewWriter(&w.zbuf, flate.BestCompression) // the level is valid
		}
		zw = w.zwSmall
	}
	zw.Reset(&w.zbuf)
	if _, err := zw.Write(block); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	out := appendLong(w.out[:0], int64(n))
	out = appendLong(out, int64(w.zbuf.Len()))
	out = append(out, w.zbuf.Bytes()...)
	out = append(out, w.sync[:]...)
	w.out = out
	return w.emit(out)
}

func (w *Writer) emit(b []byte) error {
	n, err := w.w.Write(b)
	w.written.Add(int64(n))
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}

// Close flushes the buffered records. It does not close the underlying writer. Later calls to
// Write return an error.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	err := w.Flush()
	w.closed = true
	w.block, w.out, w.zw, w.zwSmall = nil, nil, nil, nil
	return err
}

// Written returns the number of records Write accepted, those of the current block included,
// and the number of bytes written to the underlying writer so far (which a block being written
// in the background adds to when it is done).
func (w *Writer) Written() (records, bytes int64) {
	return w.records, w.written.Load()
}

// Avro binary encoding (Avro specification 1.11, "Binary Encoding"). The appendX functions
// append the encoding of one value to b.

func appendLong(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63) // zig-zag
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// appendInt encodes an Avro int, whose zig-zag varint equals that of the same value as a long.
func appendInt(b []byte, v int32) []byte { return appendLong(b, int64(v)) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendString(b []byte, s string) []byte {
	b = appendLong(b, int64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = appendLong(b, int64(len(v)))
	return append(b, v...)
}

// appendNullableString encodes a ["null", "string"] union.
func appendNullableString(b []byte, s *string) []byte {
	if s == nil {
		return appendLong(b, 0)
	}
	return appendString(appendLong(b, 1), *s)
}

func appendOID(b []byte, o *sysflowv1.OID) []byte {
	b = appendLong(b, o.GetCreateTs())
	return appendLong(b, o.GetHpid())
}

// appendArray encodes an array of items as goavro does: blocks of at most maxBlockCount items
// (one block for SysFlow's arrays), each a positive count and the items, then a zero count.
func appendArray[T any](b []byte, items []T, item func([]byte, T) []byte) []byte {
	for chunk := range slices.Chunk(items, maxBlockCount) {
		b = appendLong(b, int64(len(chunk)))
		for _, it := range chunk {
			b = item(b, it)
		}
	}
	return appendLong(b, 0)
}

// appendStringMap encodes a map of strings in key order.
func appendStringMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return appendArray(b, keys, func(b []byte, k string) []byte {
		return appendString(appendString(b, k), m[k])
	})
}

// notRepresentable returns an error wrapping ErrNotRepresentable.
func notRepresentable(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrNotRepresentable)
}

func missing(path string) error { return notRepresentable("%s missing", path) }

// enumIndex returns the index in the schema of the symbol of v, whose protobuf value is the
// symbol's index plus one.
func enumIndex[E ~int32](path string, s symbols[E], v E) (int64, error) {
	if _, ok := s.name(v); !ok {
		return 0, notRepresentable("%s: no SysFlow symbol for %v", path, v)
	}
	return int64(v) - 1, nil
}

func appendFOID(b []byte, path string, oid []byte) ([]byte, error) {
	if len(oid) != foidSize {
		return nil, notRepresentable("%s: want %d bytes, got %d", path, foidSize, len(oid))
	}
	return append(b, oid...), nil
}

func checkIPv4(path string, sip6, dip6 []byte) error {
	if len(sip6) > 0 || len(dip6) > 0 {
		return notRepresentable("%s: IPv6 address (sip6, dip6)", path)
	}
	return nil
}

// appendRecord encodes rec as a sysflow.SysFlow datum: the index of its type in the rec union,
// then its fields in schema order. It refuses what ToNative refuses.
func appendRecord(b []byte, rec *sysflowv1.Record) ([]byte, error) {
	t := TypeOf(rec)
	if t == sysflowv1.RecordType_RECORD_TYPE_UNSPECIFIED {
		return nil, notRepresentable("record without payload")
	}
	b = appendLong(b, int64(t)-1) // the union's branches are in RecordType order
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_Header:
		return appendHeaderRecord(b, r.Header)
	case *sysflowv1.Record_Container:
		return appendContainer(b, r.Container)
	case *sysflowv1.Record_Process:
		return appendProcess(b, r.Process)
	case *sysflowv1.Record_File:
		return appendFile(b, r.File)
	case *sysflowv1.Record_ProcessEvent:
		return appendProcessEvent(b, r.ProcessEvent)
	case *sysflowv1.Record_NetworkFlow:
		return appendNetworkFlow(b, r.NetworkFlow)
	case *sysflowv1.Record_FileFlow:
		return appendFileFlow(b, r.FileFlow)
	case *sysflowv1.Record_FileEvent:
		return appendFileEvent(b, r.FileEvent)
	case *sysflowv1.Record_NetworkEvent:
		return appendNetworkEvent(b, r.NetworkEvent)
	case *sysflowv1.Record_ProcessFlow:
		return appendProcessFlow(b, r.ProcessFlow)
	case *sysflowv1.Record_Pod:
		return appendPod(b, r.Pod)
	case *sysflowv1.Record_K8SEvent:
		return appendK8sEvent(b, r.K8SEvent)
	}
	return nil, notRepresentable("record of type %v", t)
}

func appendHeaderRecord(b []byte, h *sysflowv1.SFHeader) ([]byte, error) {
	if h == nil {
		return nil, missing("SFHeader")
	}
	b = appendLong(b, h.GetVersion())
	b = appendString(b, h.GetExporter())
	b = appendString(b, h.GetIp())
	return appendString(b, h.GetFilename()), nil
}

func appendContainer(b []byte, c *sysflowv1.Container) ([]byte, error) {
	if c == nil {
		return nil, missing("Container")
	}
	typ, err := enumIndex("Container.type", containerTypes, c.GetType())
	if err != nil {
		return nil, err
	}
	b = appendString(b, c.GetId())
	b = appendString(b, c.GetName())
	b = appendString(b, c.GetImage())
	b = appendString(b, c.GetImageid())
	b = appendLong(b, typ)
	b = appendBool(b, c.GetPrivileged())
	return appendNullableString(b, c.PodId), nil
}

func appendProcess(b []byte, p *sysflowv1.Process) ([]byte, error) {
	if p == nil {
		return nil, missing("Process")
	}
	state, err := enumIndex("Process.state", objectStates, p.GetState())
	if err != nil {
		return nil, err
	}
	if p.GetOid() == nil {
		return nil, missing("Process.oid")
	}
	b = appendLong(b, state)
	b = appendOID(b, p.GetOid())
	if p.GetPoid() == nil {
		b = appendLong(b, 0)
	} else {
		b = appendOID(appendLong(b, 1), p.GetPoid())
	}
	b = appendLong(b, p.GetTs())
	b = appendString(b, p.GetExe())
	b = appendString(b, p.GetExeArgs())
	b = appendInt(b, p.GetUid())
	b = appendString(b, p.GetUserName())
	b = appendInt(b, p.GetGid())
	b = appendString(b, p.GetGroupName())
	b = appendBool(b, p.GetTty())
	b = appendNullableString(b, p.ContainerId)
	b = appendBool(b, p.GetEntry())
	b = appendString(b, p.GetCwd())
	return appendArray(b, p.GetEnv(), appendString), nil
}

func appendFile(b []byte, f *sysflowv1.File) ([]byte, error) {
	if f == nil {
		return nil, missing("File")
	}
	state, err := enumIndex("File.state", objectStates, f.GetState())
	if err != nil {
		return nil, err
	}
	b = appendLong(b, state)
	if b, err = appendFOID(b, "File.oid", f.GetOid()); err != nil {
		return nil, err
	}
	b = appendLong(b, f.GetTs())
	b = appendInt(b, f.GetRestype())
	b = appendString(b, f.GetPath())
	return appendNullableString(b, f.ContainerId), nil
}

func appendProcessEvent(b []byte, e *sysflowv1.ProcessEvent) ([]byte, error) {
	if e == nil {
		return nil, missing("ProcessEvent")
	}
	if e.GetProcOid() == nil {
		return nil, missing("ProcessEvent.procOID")
	}
	b = appendOID(b, e.GetProcOid())
	b = appendLong(b, e.GetTs())
	b = appendLong(b, e.GetTid())
	b = appendInt(b, e.GetOpFlags())
	b = appendArray(b, e.GetArgs(), appendString)
	return appendInt(b, e.GetRet()), nil
}

func appendNetworkFlow(b []byte, f *sysflowv1.NetworkFlow) ([]byte, error) {
	if f == nil {
		return nil, missing("NetworkFlow")
	}
	if err := checkIPv4("NetworkFlow", f.GetSip6(), f.GetDip6()); err != nil {
		return nil, err
	}
	if f.GetProcOid() == nil {
		return nil, missing("NetworkFlow.procOID")
	}
	b = appendOID(b, f.GetProcOid())
	b = appendLong(b, f.GetTs())
	b = appendLong(b, f.GetTid())
	b = appendInt(b, f.GetOpFlags())
	b = appendLong(b, f.GetEndTs())
	b = appendInt(b, f.GetSip())
	b = appendInt(b, f.GetSport())
	b = appendInt(b, f.GetDip())
	b = appendInt(b, f.GetDport())
	b = appendInt(b, f.GetProto())
	b = appendInt(b, f.GetFd())
	b = appendLong(b, f.GetNumRRecvOps())
	b = appendLong(b, f.GetNumWSendOps())
	b = appendLong(b, f.GetNumRRecvBytes())
	return appendLong(b, f.GetNumWSendBytes()), nil
}

func appendFileFlow(b []byte, f *sysflowv1.FileFlow) ([]byte, error) {
	if f == nil {
		return nil, missing("FileFlow")
	}
	if f.GetProcOid() == nil {
		return nil, missing("FileFlow.procOID")
	}
	b = appendOID(b, f.GetProcOid())
	b = appendLong(b, f.GetTs())
	b = appendLong(b, f.GetTid())
	b = appendInt(b, f.GetOpFlags())
	b = appendInt(b, f.GetOpenFlags())
	b = appendLong(b, f.GetEndTs())
	b, err := appendFOID(b, "FileFlow.fileOID", f.GetFileOid())
	if err != nil {
		return nil, err
	}
	b = appendInt(b, f.GetFd())
	b = appendLong(b, f.GetNumRRecvOps())
	b = appendLong(b, f.GetNumWSendOps())
	b = appendLong(b, f.GetNumRRecvBytes())
	return appendLong(b, f.GetNumWSendBytes()), nil
}

func appendFileEvent(b []byte, e *sysflowv1.FileEvent) ([]byte, error) {
	if e == nil {
		return nil, missing("FileEvent")
	}
	if e.GetProcOid() == nil {
		return nil, missing("FileEvent.procOID")
	}
	b = appendOID(b, e.GetProcOid())
	b = appendLong(b, e.GetTs())
	b = appendLong(b, e.GetTid())
	b = appendInt(b, e.GetOpFlags())
	b, err := appendFOID(b, "FileEvent.fileOID", e.GetFileOid())
	if err != nil {
		return nil, err
	}
	b = appendInt(b, e.GetRet())
	if len(e.GetNewFileOid()) == 0 {
		return appendLong(b, 0), nil
	}
	return appendFOID(appendLong(b, 1), "FileEvent.newFileOID", e.GetNewFileOid())
}

func appendNetworkEvent(b []byte, e *sysflowv1.NetworkEvent) ([]byte, error) {
	if e == nil {
		return nil, missing("NetworkEvent")
	}
	if err := checkIPv4("NetworkEvent", e.GetSip6(), e.GetDip6()); err != nil {
		return nil, err
	}
	if e.GetProcOid() == nil {
		return nil, missing("NetworkEvent.procOID")
	}
	b = appendOID(b, e.GetProcOid())
	b = appendLong(b, e.GetTs())
	b = appendLong(b, e.GetTid())
	b = appendInt(b, e.GetOpFlags())
	b = appendInt(b, e.GetSip())
	b = appendInt(b, e.GetSport())
	b = appendInt(b, e.GetDip())
	b = appendInt(b, e.GetDport())
	b = appendInt(b, e.GetProto())
	return appendInt(b, e.GetRet()), nil
}

func appendProcessFlow(b []byte, f *sysflowv1.ProcessFlow) ([]byte, error) {
	if f == nil {
		return nil, missing("ProcessFlow")
	}
	if f.GetProcOid() == nil {
		return nil, missing("ProcessFlow.procOID")
	}
	b = appendOID(b, f.GetProcOid())
	b = appendLong(b, f.GetTs())
	b = appendLong(b, f.GetNumThreadsCloned())
	b = appendInt(b, f.GetOpFlags())
	b = appendLong(b, f.GetEndTs())
	b = appendLong(b, f.GetNumThreadsExited())
	return appendLong(b, f.GetNumCloneErrors()), nil
}

func appendPod(b []byte, p *sysflowv1.Pod) ([]byte, error) {
	if p == nil {
		return nil, missing("Pod")
	}
	for i, s := range p.GetServices() {
		if s == nil {
			return nil, missing(fmt.Sprintf("Pod.services[%d]", i))
		}
		for j, pt := range s.GetPortList() {
			if pt == nil {
				return nil, missing(fmt.Sprintf("Pod.services[%d].portList[%d]", i, j))
			}
		}
	}
	b = appendLong(b, p.GetTs())
	b = appendString(b, p.GetId())
	b = appendString(b, p.GetName())
	b = appendString(b, p.GetNodeName())
	b = appendArray(b, p.GetHostIps(), appendLong)
	b = appendArray(b, p.GetInternalIps(), appendLong)
	b = appendString(b, p.GetNamespace())
	b = appendLong(b, p.GetRestartCount())
	b = appendStringMap(b, p.GetLabels())
	b = appendStringMap(b, p.GetSelectors())
	return appendArray(b, p.GetServices(), appendService), nil
}

func appendService(b []byte, s *sysflowv1.Service) []byte {
	b = appendString(b, s.GetName())
	b = appendString(b, s.GetId())
	b = appendString(b, s.GetNamespace())
	b = appendArray(b, s.GetPortList(), appendPort)
	return appendArray(b, s.GetClusterIps(), appendLong)
}

func appendPort(b []byte, pt *sysflowv1.Port) []byte {
	b = appendInt(b, pt.GetPort())
	b = appendInt(b, pt.GetTargetPort())
	b = appendInt(b, pt.GetNodePort())
	return appendString(b, pt.GetProto())
}

func appendK8sEvent(b []byte, e *sysflowv1.K8SEvent) ([]byte, error) {
	if e == nil {
		return nil, missing("K8sEvent")
	}
	kind, err := enumIndex("K8sEvent.kind", k8sComponents, e.GetKind())
	if err != nil {
		return nil, err
	}
	action, err := enumIndex("K8sEvent.action", k8sActions, e.GetAction())
	if err != nil {
		return nil, err
	}
	b = appendLong(b, kind)
	b = appendLong(b, action)
	b = appendLong(b, e.GetTs())
	return appendString(b, e.GetMessage()), nil
}

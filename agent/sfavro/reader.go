// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/linkedin/goavro/v2"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// A Reader reads the records of one SysFlow file, an Avro object container file, with the schema
// embedded in the file. A Reader is not safe for concurrent use.
type Reader struct {
	ocf  *goavro.OCFReader
	name string // the file's base name, "" when unknown
	n    int    // index of the next record in the file, counting from 0
	err  error  // sticky read error, or io.EOF
}

// NewReader reads the header of the SysFlow file r and returns a Reader for its records. When r
// has a Name method, as *os.File does, errors name the file.
//
// The file may be written with any SysFlow schema version. NewReader rejects a schema that uses
// an Avro logical type other than timestamp-millis (SysFlow's oldest schemas) and ipaddr (which
// the Avro library leaves as a plain long), because those would not map back to the values in
// the file.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{}
	if f, ok := r.(interface{ Name() string }); ok {
		rd.name = filepath.Base(f.Name())
	}
	if _, ok := r.(io.ByteReader); !ok {
		// goavro reads the block headers one byte at a time.
		r = bufio.NewReaderSize(r, 64<<10)
	}
	ocf, err := newOCFReader(r)
	if err != nil {
		return nil, rd.wrap("read header: %w", err)
	}
	if err := checkLogicalTypes(ocf.MetaData()["avro.schema"]); err != nil {
		return nil, rd.wrap("read header: %w", err)
	}
	rd.ocf = ocf
	return rd, nil
}

// Next returns the next record of the file, or io.EOF after the last one. The record's envelope
// (node_id, agent_id, epoch, seq) is zero.
//
// An error names the record by its index in the file, counting from 0 (the SFHeader), for
// example "files.sf: record 1234: FileFlow.fileOID: want 20 bytes, got 3". A record that does
// not map is skipped, and the next call returns the record after it; an error decoding the file
// itself is returned again by every later call.
func (r *Reader) Next() (*sysflowv1.Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	datum, err := r.read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			r.err = io.EOF
			return nil, io.EOF
		}
		r.err = r.wrap("record %d: %w", r.n, err)
		return nil, r.err
	}
	n := r.n
	r.n++
	rec, err := FromNative(datum)
	if err != nil {
		return nil, r.wrap("record %d: %w", n, err)
	}
	return rec, nil
}

// read decodes the next datum, returning io.EOF at the end of the file.
func (r *Reader) read() (datum any, err error) {
	defer recoverError(&err)
	if !r.ocf.Scan() {
		if err := r.ocf.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	return r.ocf.Read()
}

func newOCFReader(r io.Reader) (ocf *goavro.OCFReader, err error) {
	defer recoverError(&err)
	return goavro.NewOCFReader(r)
}

// recoverError turns a panic of the Avro library on malformed input into an error. goavro is no
// longer actively developed, and a decoder fed a file from disk must not bring the agent down.
func recoverError(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("avro decoder panicked: %v", p)
	}
}

func (r *Reader) wrap(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if r.name == "" {
		return err
	}
	return fmt.Errorf("%s: %w", r.name, err)
}

// ReadFile reads every record of the SysFlow file at path.
func ReadFile(path string) ([]*sysflowv1.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		return nil, err
	}
	var recs []*sysflowv1.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
}

// checkLogicalTypes fails when the schema uses a logical type whose goavro form FromNative does
// not map back exactly.
func checkLogicalTypes(schema []byte) error {
	var s any
	if err := json.Unmarshal(schema, &s); err != nil {
		return fmt.Errorf("parse schema: %w", err)
	}
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			if lt, ok := x["logicalType"]; ok {
				switch lt {
				case "timestamp-millis", "ipaddr":
				default:
					return fmt.Errorf("unsupported logical type %v", lt)
				}
			}
			for _, c := range x {
				if err := walk(c); err != nil {
					return err
				}
			}
		case []any:
			for _, c := range x {
				if err := walk(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(s)
}

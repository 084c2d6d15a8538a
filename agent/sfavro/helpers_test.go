// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/linkedin/goavro/v2"
)

// fixtures is the shared fixtures directory, relative to this package's directory
// (agent/sfavro in the repository, next to which the fixtures are checked out).
const fixtures = "../../../shared/fixtures"

var (
	tracesDir = filepath.Join(fixtures, "sysflow", "traces")
	schemaV5  = filepath.Join(fixtures, "sysflow", "avsc", "SysFlow.avsc")
)

// traceFiles returns the paths of every fixture trace.
func traceFiles(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(tracesDir, "*.sf"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatalf("no traces in %s", tracesDir)
	}
	return files
}

// v5Codec returns a goavro codec for SysFlow schema version 5, read from the fixtures.
func v5Codec(tb testing.TB) *goavro.Codec {
	tb.Helper()
	schema, err := os.ReadFile(schemaV5)
	if err != nil {
		tb.Fatal(err)
	}
	codec, err := goavro.NewCodec(string(schema))
	if err != nil {
		tb.Fatalf("NewCodec(%s): %v", schemaV5, err)
	}
	return codec
}

// nativeData decodes a trace with goavro alone, returning its data in native form and the
// schema embedded in the file.
func nativeData(tb testing.TB, path string) ([]any, []byte) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	ocf, err := goavro.NewOCFReader(f)
	if err != nil {
		tb.Fatalf("NewOCFReader(%s): %v", path, err)
	}
	var data []any
	for ocf.Scan() {
		d, err := ocf.Read()
		if err != nil {
			tb.Fatalf("%s: datum %d: %v", path, len(data), err)
		}
		data = append(data, d)
	}
	if err := ocf.Err(); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return data, ocf.MetaData()["avro.schema"]
}

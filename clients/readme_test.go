// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package clients_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeShowsTheFiles checks that each code block of README.md marked with the file it
// shows is that file, as it is: the hello worlds there are the ones the live tests run.
func TestReadmeShowsTheFiles(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)<!-- file: (\\S+) -->\n```\\w*\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 3 {
		t.Fatalf("README.md shows %d files, want the hello world of each client", len(blocks))
	}
	for _, b := range blocks {
		file, err := os.ReadFile(b[1])
		if err != nil {
			t.Errorf("README.md shows %s: %v", b[1], err)
			continue
		}
		if strings.TrimSpace(string(file)) != strings.TrimSpace(b[2]) {
			t.Errorf("README.md shows %s other than it is:\n%s", b[1], b[2])
		}
	}
}

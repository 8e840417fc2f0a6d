// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Package testutil holds helpers shared by this module's tests.
package testutil

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TempDir is t.TempDir for tests that also run under Wine, where Go's
// os.RemoveAll fails: it creates a directory (named after pattern, which
// may hold glob metacharacters) and at cleanup removes its entries one at a
// time, deepest first.
func TempDir(t testing.TB, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		_ = filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
			if err == nil {
				paths = append(paths, path)
			}
			return nil
		})
		// Deeper paths are longer than their parents, and a parent sorts
		// before its children, so reverse order removes children first.
		slices.SortFunc(paths, strings.Compare)
		slices.Reverse(paths)
		for _, p := range paths {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return dir
}

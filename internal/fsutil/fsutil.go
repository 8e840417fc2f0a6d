// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Package fsutil holds file system helpers shared by this module's packages.
package fsutil

import (
	"os"
	"path/filepath"
)

// SameDir reports whether a and b name the same directory: the same path
// once cleaned, or the same file once symlinks are followed.
func SameDir(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ai, aerr := os.Stat(a)
	bi, berr := os.Stat(b)
	return aerr == nil && berr == nil && os.SameFile(ai, bi)
}

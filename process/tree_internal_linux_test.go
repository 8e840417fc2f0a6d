// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestMainThreadOnly: only a process whose one thread is its running main
// thread has its children listed by that thread alone.
func TestMainThreadOnly(t *testing.T) {
	for _, c := range []struct {
		stat string
		want bool
	}{
		{"S 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 99", true},
		{"R 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 7 0 99", false},
		// The main thread has exited, another runs on.
		{"Z 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 99", false},
		{"S 1 1 1", false},
	} {
		assert.Equal(t, c.want, mainThreadOnly(strings.Fields(c.stat)), c.stat)
	}
}

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestExecBound: a run is bounded even when neither Exec nor the context
// sets a bound, since a wedged WSL service may never answer; a caller's
// deadline replaces the default, and an explicit Timeout applies as given.
// The hung-wsl.exe tests in exec_test.go check that the bound is enforced.
func TestExecBound(t *testing.T) {
	deadline, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		ctx     context.Context
		want    time.Duration
	}{
		{name: "no bound anywhere", ctx: context.Background(), want: DefaultTimeout},
		{name: "caller's deadline", ctx: deadline, want: -1},
		{name: "Exec.Timeout", timeout: time.Second, ctx: context.Background(), want: time.Second},
		{name: "Exec.Timeout and deadline", timeout: time.Second, ctx: deadline, want: time.Second},
		{name: "disabled", timeout: -1, ctx: context.Background(), want: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Exec{Timeout: tc.timeout}.bound(tc.ctx)
			if tc.want > 0 {
				assert.Equal(t, tc.want, got)
			} else {
				assert.LessOrEqual(t, got, time.Duration(0))
			}
		})
	}
	assert.Positive(t, DefaultTimeout)
}

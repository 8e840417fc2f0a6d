//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl_test

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/wsl"
)

func TestExecNoWSL(t *testing.T) {
	t.Setenv("PATH", testutil.TempDir(t, "path"))
	_, err := wsl.Exec{}.Run(context.Background(), "--list", "--verbose")
	require.ErrorIs(t, err, errors.ErrUnsupported)
}

// escapeAttr starts a process in a process group of its own, out of reach
// of the kill of wsl.exe's group.
func escapeAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// isolatedAttr returns nothing special: a child gets only the descriptors
// it is given.
func isolatedAttr() *syscall.SysProcAttr { return nil }

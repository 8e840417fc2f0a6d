// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl_test

import (
	"context"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/wsl"
)

func TestExecNoWSL(t *testing.T) {
	t.Setenv("PATH", testutil.TempDir(t, "path"))
	_, err := wsl.Exec{}.Run(context.Background(), "--list", "--verbose")
	require.ErrorIs(t, err, exec.ErrNotFound)
}

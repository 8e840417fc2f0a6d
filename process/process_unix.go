//go:build linux || darwin

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"context"
	"errors"
	"os"
	"time"
)

// waitReadable blocks in Go's netpoller until ready reports true for f's
// descriptor, re-checking each time the descriptor becomes readable, or
// until ctx ends. f must be non-blocking.
func waitReadable(ctx context.Context, f *os.File, ready func(fd uintptr) bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	err = rc.Read(ready)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ctx.Err()
	}
	return err
}

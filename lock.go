// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"context"
	"time"
)

// Stops of one instance are serialised by an OS lock on the instance
// directory that dies with its holder (lockDir, in lock_unix.go and
// lock_windows.go). The lock belongs to an open file, not to a path or a
// process: the same instance reached through a symlink or a relative path
// is one lock, and two stops in one process exclude each other as two in
// different processes do (a limactl built on this package and a daemon).
// The later stop then finds the instance stopped and reports
// AlreadyStopped.
//
// Lima itself does not take this lock: a limactl that does not use this
// package can still act while a stop runs.

// lockInstance waits until no other stop of dir runs, or until ctx ends. A
// ctx that has already ended gets no lock, even one that is free.
func lockInstance(ctx context.Context, dir string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return lockDir(ctx, dir)
}

// retryLock calls try until it takes the lock, with a backoff from 1 ms to
// 20 ms, until ctx ends: OS locks that die with their holder cannot be
// waited for with a context.
func retryLock(ctx context.Context, try func() (bool, error)) error {
	delay := time.Millisecond
	for {
		ok, err := try()
		if err != nil || ok {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		delay = min(2*delay, 20*time.Millisecond)
	}
}

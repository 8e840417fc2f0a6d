//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// lockDir takes flock(LOCK_EX) on the instance directory itself: it creates
// no file that could be left behind, follows the directory wherever it is
// reached from, and the kernel drops it when the holder exits or dies.
func lockDir(ctx context.Context, dir string) (func(), error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("failed to open the instance directory %q to lock it: %w", dir, err)
	}
	err = retryLock(ctx, func() (bool, error) {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK), errors.Is(err, unix.EINTR):
			return false, nil
		}
		return false, fmt.Errorf("failed to lock the instance directory %q: %w", dir, err)
	})
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return func() { unix.Close(fd) }, nil
}

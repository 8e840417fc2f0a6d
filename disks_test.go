// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/testutil"
)

// TestLimaDisksRefusesBadNames: a disk name is one path element. A name that
// climbs out of _disks or into a subdirectory is refused before anything is
// read or removed, even where a lock that names the instance lies at the
// path it would reach.
func TestLimaDisksRefusesBadNames(t *testing.T) {
	home := testutil.TempDir(t, dirPattern)
	dir := filepath.Join(home, "default")
	require.NoError(t, os.Mkdir(dir, 0o755))
	inst := &stop.Instance{Name: "default", Dir: dir, VMType: "qemu"}
	for _, disk := range []string{"", ".", "..", "a/b", "../default", "data/..", "data/../data", `a\b`, `..\x`, "/abs"} {
		t.Run(disk, func(t *testing.T) {
			// Where an unchecked name would look for its lock: bait
			// that names this instance, so an unchecked Unlock would
			// remove it.
			bait := filepath.Join(home, "_disks", disk, "in_use_by")
			planted := os.MkdirAll(filepath.Dir(bait), 0o755) == nil && lockDisk(t, bait, dir)
			err := stop.LimaDisks{}.Unlock(context.Background(), inst, disk)
			require.Error(t, err)
			assert.ErrorContains(t, err, "invalid disk name")
			if planted {
				holder, err := os.Readlink(bait)
				require.NoError(t, err, "the lock at %s was removed", bait)
				assert.Equal(t, dir, holder)
				require.NoError(t, os.Remove(bait))
			}
		})
	}
}

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package lima_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/lima-vm/lima/pkg/store"
	"github.com/lima-vm/lima/pkg/store/filenames"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/lima"
)

// TestStaleFileSuffixes catches drift from upstream: a forced stop must
// remove what Lima considers temporary files, no more and no less.
func TestStaleFileSuffixes(t *testing.T) {
	assert.Equal(t, filenames.TmpFileSuffixes, stop.StaleFileSuffixes())
}

func TestInstance(t *testing.T) {
	got := lima.Instance(&store.Instance{
		Name: "default", Dir: "/home/u/.lima/default", VMType: limayaml.QEMU,
		HostAgentPID: 100, DriverPID: 101,
		AdditionalDisks: []limayaml.Disk{{Name: "data"}, {Name: "cache"}},
	})
	assert.Equal(t, &stop.Instance{
		Name: "default", Dir: "/home/u/.lima/default", VMType: "qemu",
		HostAgentPID: 100, DriverPID: 101, AdditionalDisks: []string{"data", "cache"},
	}, got)
}

func TestDisksUnlock(t *testing.T) {
	home := testutil.TempDir(t, "lima-home[1]")
	t.Setenv("LIMA_HOME", home)
	inst := &stop.Instance{Name: "default", Dir: filepath.Join(home, "default"), VMType: "qemu"}
	other := filepath.Join(home, "other")
	for _, dir := range []string{inst.Dir, other} {
		require.NoError(t, os.Mkdir(dir, 0o755))
	}
	newDisk := func(name, holder string) string {
		dir := filepath.Join(home, filenames.DisksDir, name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, filenames.DataDisk), make([]byte, 4096), 0o644))
		lock := filepath.Join(dir, filenames.InUseBy)
		if holder != "" {
			// Wine reports success but creates no link.
			err := os.Symlink(holder, lock)
			if err == nil {
				_, err = os.Readlink(lock)
			}
			if err != nil {
				t.Skipf("symlinks unavailable: %v", err)
			}
		}
		return lock
	}
	ours, theirs, free := newDisk("ours", inst.Dir), newDisk("theirs", other), newDisk("free", "")

	unlocker := lima.Disks{}
	require.NoError(t, unlocker.Unlock(context.Background(), inst, "ours"))
	assert.NoFileExists(t, ours)

	require.ErrorIs(t, unlocker.Unlock(context.Background(), inst, "theirs"), stop.ErrDiskHeldElsewhere)
	holder, err := os.Readlink(theirs)
	require.NoError(t, err)
	assert.Equal(t, other, holder)

	require.NoError(t, unlocker.Unlock(context.Background(), inst, "free"))
	assert.NoFileExists(t, free)

	assert.Error(t, unlocker.Unlock(context.Background(), inst, "missing"))
}

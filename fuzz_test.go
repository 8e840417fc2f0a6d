// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
)

// FuzzStaleFiles puts one file (or directory) of any name and content into
// the directory of a stopped instance and checks what a forced stop does
// with it: only a file whose name ends in a suffix of StaleFileSuffixes may
// go; a pid file only if it names a PID that may be signalled and that no
// process holds, since a pid file that is garbage, or names a PID that must
// never be signalled, may stand for a process that still runs; everything
// else stays untouched, and so does lima.yaml.
func FuzzStaleFiles(f *testing.F) {
	for _, seed := range []struct {
		name    string
		content string
		dir     bool
	}{
		{"ha.pid", "4242\n", false}, {"qemu.pid", "", false}, {"vz.pid", "garbage", false}, {"ha.sock", "", false},
		{"ha.pid", "1\n", false}, {"x.pid", "4294967295", false}, {".pid", "77", false}, {"a.pid.bak", "42", false},
		{"serial.log", "log", false}, {"ha.stdout.log", "", false}, {"x.tmp", "", false}, {"x.TMP", "", false},
		{"cidata.iso", "", false}, {"diffdisk", "", false}, {"x.sock", "", true}, {"ha.pid", "", true},
		{"[x]*?.pid", "42\n", false}, {"x.pid ", "42", false}, {"x .sock", "", false}, {"é.tmp", "", false},
	} {
		f.Add(seed.name, []byte(seed.content), seed.dir)
	}
	dir := filepath.Join(testutil.TempDir(f, dirPattern), "default")
	require.NoError(f, os.Mkdir(dir, 0o755))
	yaml := filepath.Join(dir, "lima.yaml")
	require.NoError(f, os.WriteFile(yaml, []byte("vmType: qemu\n"), 0o644))
	inst := &stop.Instance{Name: "default", Dir: dir, VMType: "qemu"}
	f.Fuzz(func(t *testing.T, name string, content []byte, isDir bool) {
		if name == "" || name == "." || name == ".." || len(name) > 200 || strings.ContainsAny(name, "/\\\x00") ||
			strings.EqualFold(name, "lima.yaml") || strings.EqualFold(name, "limastop.lock") {
			t.Skip("not a file name of its own")
		}
		path := filepath.Join(dir, name)
		var err error
		if isDir {
			err = os.Mkdir(path, 0o755)
		} else {
			err = os.WriteFile(path, content, 0o644)
		}
		if err == nil && !slices.Equal(dirNames(t, dir), sortedNames("lima.yaml", name)) {
			// The OS stored it under another name (Windows drops
			// trailing dots and blanks).
			err = errors.New("renamed")
		}
		if err != nil {
			removeAllBut(t, dir, "lima.yaml")
			t.Skipf("the OS does not take %q: %v", name, err)
		}
		defer removeAllBut(t, dir, "lima.yaml")

		var table processtest.Table
		res, err := stop.Forcible{Processes: &table, Timeout: time.Second}.Stop(context.Background(), inst)

		removable := false
		for _, s := range stop.StaleFileSuffixes() {
			removable = removable || strings.HasSuffix(name, s)
		}
		// On a case-insensitive file system "HA.PID" is read as ha.pid.
		target := sameFile(path, filepath.Join(dir, "ha.pid")) || sameFile(path, filepath.Join(dir, "qemu.pid"))
		usable := true
		if strings.HasSuffix(name, ".pid") || target {
			pid, perr := process.ParsePID(string(content))
			usable = !isDir && len(content) <= 64 && perr == nil && process.CheckPID(pid) == nil
		}
		_, statErr := os.Lstat(path)

		gone := errors.Is(statErr, os.ErrNotExist)
		b, yerr := os.ReadFile(yaml)
		require.NoError(t, yerr, "lima.yaml")
		require.Equal(t, "vmType: qemu\n", string(b))
		switch {
		case !usable && (!isDir || target):
			require.Error(t, err, "%q holding %q", name, content)
			require.Equal(t, stop.NotStopped, res.Outcome)
			require.False(t, gone, "%q holding %q was removed", name, content)
		case isDir || !removable:
			require.NoError(t, err)
			require.False(t, gone, "%q was removed", name)
			if !isDir {
				got, rerr := os.ReadFile(path)
				require.NoError(t, rerr)
				require.True(t, bytes.Equal(content, got), "%q was changed", name)
			}
		default:
			require.NoError(t, err)
			require.Equal(t, stop.AlreadyStopped, res.Outcome)
			require.True(t, gone, "stale %q was kept", name)
		}
	})
}

// sameFile reports whether a and b name one existing file.
func sameFile(a, b string) bool {
	fa, err := os.Lstat(a)
	if err != nil {
		return false
	}
	fb, err := os.Lstat(b)
	return err == nil && os.SameFile(fa, fb)
}

func sortedNames(names ...string) []string {
	slices.Sort(names)
	return names
}

// removeAllBut empties dir of everything but keep, without os.RemoveAll,
// which fails under Wine.
func removeAllBut(t *testing.T, dir, keep string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() != keep && e.Name() != "limastop.lock" {
			require.NoError(t, os.Remove(filepath.Join(dir, e.Name())))
		}
	}
}

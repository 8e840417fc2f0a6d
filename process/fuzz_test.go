// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/internal/testutil"
)

// FuzzParsePID checks ParsePID against a definition written differently:
// the text is a claim of exactly one kind (garbage or unsafe) or a PID in
// [2, 2^31-1] that is the text without its ASCII blanks and leading zeros.
func FuzzParsePID(f *testing.F) {
	for _, s := range []string{"4242\n", " 0042 ", "", "1", "0", "-1", "+2", "2147483647", "2147483648",
		"4294967295", "4294967298", "99999999999999999999", "\u00a0123", "12\x003", "0x10", "\t7\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		pid, err := ParsePID(text)
		trimmed := strings.Trim(text, " \t\n\r\v\f")
		digits := trimmed != ""
		for _, r := range trimmed {
			digits = digits && '0' <= r && r <= '9'
		}
		if err != nil {
			require.Zero(t, pid)
			bad, unsafe := errors.Is(err, ErrBadPIDFile), errors.Is(err, ErrUnsafePID)
			require.NotEqual(t, bad, unsafe, "%v wraps exactly one of the two", err)
			// Garbage is exactly what is not ASCII digits within ASCII
			// blanks; digits are refused only for their value.
			require.Equal(t, !digits, bad, "%q: %v", text, err)
			if v := strings.TrimLeft(trimmed, "0"); unsafe && len(v) <= 10 {
				n, perr := strconv.ParseInt("0"+v, 10, 64)
				require.NoError(t, perr)
				require.True(t, n <= 1 || n > 1<<31-1, "%q refused as unsafe: %v", text, err)
			}
			return
		}
		require.True(t, digits, "%q accepted", text)
		require.GreaterOrEqual(t, pid, 2)
		require.LessOrEqual(t, int64(pid), int64(1<<31-1))
		require.Equal(t, strings.TrimLeft(trimmed, "0"), strconv.Itoa(pid))
	})
}

// FuzzReadPIDFile writes the input as a pid file and checks ReadPIDFile
// against ParsePID: a file of at most maxPIDFileSize bytes reads as
// ParsePID parses its text, a longer one is garbage whatever it holds (so
// a long run of digits is never parsed, nor read whole), an error carries
// no PID and names the file, and a PID comes with the file's modification
// time.
func FuzzReadPIDFile(f *testing.F) {
	for _, s := range []string{"4242\n", "", " 0042 \r\n", "1\n", "4294967295\n", "4294967298", "-1\n", "12\x0034",
		"123" + strings.Repeat(" ", maxPIDFileSize-3), "123" + strings.Repeat(" ", maxPIDFileSize-2),
		strings.Repeat("9", maxPIDFileSize+1), strings.Repeat("0", maxPIDFileSize-1) + "7", "\xff\xfe4\x002\x00"} {
		f.Add([]byte(s))
	}
	path := filepath.Join(testutil.TempDir(f, "fuzzpid"), "ha.pid")
	f.Fuzz(func(t *testing.T, content []byte) {
		require.NoError(t, os.WriteFile(path, content, 0o644))
		pid, mtime, err := ReadPIDFile(path)
		if err != nil {
			require.Zero(t, pid)
			require.True(t, mtime.IsZero())
			require.ErrorContains(t, err, filepath.Base(path))
		}
		if len(content) > maxPIDFileSize {
			require.ErrorIs(t, err, ErrBadPIDFile, "%d bytes", len(content))
			require.NotErrorIs(t, err, ErrUnsafePID)
			return
		}
		want, werr := ParsePID(string(content))
		require.Equal(t, want, pid)
		require.Equal(t, werr == nil, err == nil, "ParsePID: %v, ReadPIDFile: %v", werr, err)
		require.Equal(t, errors.Is(werr, ErrBadPIDFile), errors.Is(err, ErrBadPIDFile), "%v", err)
		require.Equal(t, errors.Is(werr, ErrUnsafePID), errors.Is(err, ErrUnsafePID), "%v", err)
		if err == nil {
			fi, serr := os.Stat(path)
			require.NoError(t, serr)
			require.True(t, fi.ModTime().Equal(mtime), "modification time %s, want %s", mtime, fi.ModTime())
		}
	})
}

// procArgs2 builds a KERN_PROCARGS2 buffer as macOS lays it out.
func procArgs2(argc int32, exe string, padding int, args ...string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(argc))
	b = append(b, exe...)
	b = append(b, make([]byte, 1+padding)...)
	for _, a := range args {
		b = append(append(b, a...), 0)
	}
	return append(b, "PATH=/usr/bin\x00HOME=/Users/me\x00"...)
}

func TestParseProcArgs2(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		want    []string
		wantErr bool
	}{
		{
			name: "host agent",
			in:   procArgs2(4, "/opt/lima/bin/limactl", 3, "limactl", "hostagent", "--pidfile=/a b/ha.pid", "default"),
			want: []string{"limactl", "hostagent", "--pidfile=/a b/ha.pid", "default"},
		},
		{name: "no padding", in: procArgs2(1, "/bin/sh", 0, "sh"), want: []string{"sh"}},
		{name: "empty later argument", in: procArgs2(3, "/bin/x", 2, "x", "", "y"), want: []string{"x", "", "y"}},
		{name: "environment ignored", in: procArgs2(1, "/bin/x", 1, "x"), want: []string{"x"}},
		{name: "empty", in: nil, wantErr: true},
		{name: "short count", in: []byte{1, 0, 0}, wantErr: true},
		{name: "no path terminator", in: append(binary.LittleEndian.AppendUint32(nil, 1), "/bin/x"...), wantErr: true},
		{name: "zero arguments", in: procArgs2(0, "/bin/x", 1), wantErr: true},
		{name: "negative count", in: procArgs2(-1, "/bin/x", 1, "x"), wantErr: true},
		{name: "count beyond the buffer", in: procArgs2(1<<30, "/bin/x", 1, "x"), wantErr: true},
		{name: "truncated argument", in: append(binary.LittleEndian.AppendUint32(nil, 2), "/bin/x\x00\x00x\x00unterminated"...), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcArgs2(tc.in)
			if tc.wantErr {
				assert.Error(t, err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// FuzzParseProcArgs2 checks that no buffer makes parseProcArgs2 panic or
// return more arguments than the count it holds.
func FuzzParseProcArgs2(f *testing.F) {
	f.Add(procArgs2(2, "/bin/x", 3, "x", "--pidfile=/a b/ha.pid"))
	f.Add(procArgs2(1<<30, "/bin/x", 0, "x"))
	f.Add(procArgs2(-5, "", 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		args, err := parseProcArgs2(b)
		if err != nil {
			require.Nil(t, args)
			return
		}
		require.GreaterOrEqual(t, len(b), 4)
		argc := int32(binary.LittleEndian.Uint32(b))
		require.Positive(t, argc)
		require.Len(t, args, int(argc))
		for _, a := range args {
			require.NotContains(t, a, "\x00")
		}
	})
}

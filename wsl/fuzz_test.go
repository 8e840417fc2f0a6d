// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/wsl"
	"github.com/limastop/stop/wsl/wsltest"
)

// testdataSeeds adds every captured wsl.exe output in testdata to f's seed
// corpus, converted by conv.
func testdataSeeds(f *testing.F, conv func([]byte) any) {
	f.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	require.NoError(f, err)
	require.NotEmpty(f, names)
	for _, name := range names {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(conv(b))
	}
}

// FuzzDecode checks Decode on arbitrary bytes and the encodings wsl.exe
// writes: text encoded as UTF-16LE with a byte order mark, or without one
// when it holds an ASCII character (every wsl.exe line ends in CRLF), or
// cut short by one byte, and UTF-8 with or without a byte order mark, all
// decode to the text; what is decoded as UTF-16LE comes out as valid
// UTF-8.
func FuzzDecode(f *testing.F) {
	testdataSeeds(f, func(b []byte) any { return b })
	for _, s := range []string{"", "\x00", "\xff\xfe", "\xef\xbb\xbf", "\xff", "ok", "\u5b9f\u884c\u4e2d", "Wird ausgeführt", "\xd8\x00", "a\x00b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// UTF-8, with or without its byte order mark, passes through
		// as it is; whatever is decoded as UTF-16LE comes out valid.
		out := wsl.Decode(b)
		if out != string(b) && out != string(bytes.TrimPrefix(b, []byte{0xef, 0xbb, 0xbf})) {
			require.True(t, utf8.ValidString(out), "%q decoded to invalid UTF-8 %q", b, out)
		}

		// b as text: what wsl.exe could have printed.
		s := strings.ToValidUTF8(string(b), "\uFFFD")
		utf16BOM := append([]byte{0xff, 0xfe}, wsltest.UTF16(s)...)
		require.Equal(t, s, wsl.Decode(utf16BOM), "UTF-16LE with BOM")
		require.Equal(t, s, wsl.Decode(append([]byte{0xef, 0xbb, 0xbf}, s...)), "UTF-8 with BOM")

		line := s + "\r\n"
		enc := wsltest.UTF16(line)
		if !bytes.HasPrefix(enc, []byte{0xff, 0xfe}) && !bytes.HasPrefix(enc, []byte{0xef, 0xbb, 0xbf}) {
			require.Equal(t, line, wsl.Decode(enc), "UTF-16LE")
			require.Equal(t, line, wsl.Decode(append(enc, 'x')), "UTF-16LE cut short by a kill")
		}
		if !strings.Contains(s, "\x00") && !strings.HasPrefix(s, "\ufeff") && !strings.HasPrefix(s, "\xff\xfe") {
			require.Equal(t, s, wsl.Decode([]byte(s)), "UTF-8 (WSL_UTF8=1)")
		}
	})
}

// FuzzParseList checks what List makes of any output of wsl.exe --list
// --verbose: it never drops a line silently (skipping one could hide a
// running distro), so on success there is one distro per non-blank line
// after the header, each with a name without blanks, a state and a
// version; and the distros survive being printed again as wsl.exe would.
func FuzzParseList(f *testing.F) {
	testdataSeeds(f, func(b []byte) any { return wsl.Decode(b) })
	for _, s := range []string{"", "\r\n", "  NAME STATE VERSION\r\n* Ubuntu Running 2\r\n",
		"  NAME STATE VERSION\r\n*\r\n", "  NAME STATE VERSION\r\n  a Wird ausgeführt 2\r\n",
		"  NAME STATE VERSION\r\n  a b c\r\n", "N\n  x Running +2\n\n\n  y Stopped 0002\r\n", "h\n* * Running 2\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		fake := new(wsltest.Fake).On("--list --verbose", wsltest.Response{Stdout: out})
		ds, err := wsl.List(context.Background(), fake)
		if err != nil {
			require.ErrorContains(t, err, "unexpected line")
			require.Nil(t, ds)
			return
		}
		rows := -1 // the header
		for _, line := range strings.Split(out, "\n") {
			if len(strings.Fields(strings.ReplaceAll(line, "\x00", ""))) > 0 {
				rows++
			}
		}
		require.Equal(t, max(rows, 0), len(ds), "%q parsed as %+v", out, ds)
		reprintable := true
		for _, d := range ds {
			require.NotEmpty(t, d.Name)
			require.Len(t, strings.Fields(d.Name), 1, "name %q", d.Name)
			require.NotEmpty(t, strings.TrimSpace(string(d.State)))
			// A distro cannot be called "*": printed again, it would
			// read as the default marker. wsltest.ListOutput pads
			// states to 16 columns, and a longer one would run into
			// the version.
			reprintable = reprintable && d.Name != "*" && len(d.State) < 16
		}
		if !reprintable {
			return
		}
		again, err := wsl.List(context.Background(), new(wsltest.Fake).On("--list --verbose",
			wsltest.Response{Stdout: wsltest.ListOutput(ds...)}))
		require.NoError(t, err)
		require.Equal(t, ds, again)
	})
}

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/wsl"
	"github.com/limastop/stop/wsl/wsltest"
)

// The distros in testdata/list*.txt.
var testDistros = []wsl.Distro{
	{Name: "Ubuntu", State: wsl.Running, Version: 2, Default: true},
	{Name: "lima-default", State: wsl.Stopped, Version: 2},
	{Name: "lima-k8s", State: wsl.Running, Version: 2},
	{Name: "Debian", State: wsl.Stopped, Version: 1},
}

// wslExitFailure is wsl.exe's exit code -1 as Go reports it on Windows.
const wslExitFailure = 4294967295

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestDecode(t *testing.T) {
	listText := "  NAME            STATE           VERSION\r\n" +
		"* Ubuntu          Running         2\r\n" +
		"  lima-default    Stopped         2\r\n" +
		"  lima-k8s        Running         2\r\n" +
		"  Debian          Stopped         1\r\n"
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{name: "UTF-16LE", in: testdata(t, "list.txt"), want: listText},
		{name: "UTF-16LE with BOM", in: testdata(t, "list-bom.txt"), want: listText},
		{name: "UTF-8 (WSL_UTF8=1)", in: testdata(t, "list-utf8.txt"), want: listText},
		{name: "empty", in: testdata(t, "empty.txt"), want: ""},
		{name: "UTF-8 with BOM", in: []byte("\xef\xbb\xbfStopped"), want: "Stopped"},
		{name: "UTF-8 non-ASCII", in: []byte("Wird ausgeführt"), want: "Wird ausgeführt"},
		{name: "UTF-16LE without ASCII", in: wsltest.UTF16("実行中"), want: "実行中"},
		{name: "UTF-16LE cut short", in: append(wsltest.UTF16("ok"), 'x'), want: "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, wsl.Decode(tt.in))
		})
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		name    string
		verbose wsltest.Response
		quiet   *wsltest.Response // nil: must not be asked
		want    []wsl.Distro
		wantErr string
	}{
		{name: "UTF-16LE", verbose: wsltest.Response{Raw: testdata(t, "list.txt")}, want: testDistros},
		{name: "BOM", verbose: wsltest.Response{Raw: testdata(t, "list-bom.txt")}, want: testDistros},
		{name: "German header", verbose: wsltest.Response{Raw: testdata(t, "list-de.txt")}, want: testDistros},
		{name: "UTF-8", verbose: wsltest.Response{Raw: testdata(t, "list-utf8.txt")}, want: testDistros},
		{name: "empty output", verbose: wsltest.Response{Raw: testdata(t, "empty.txt")}},
		{
			name:    "no distros",
			verbose: wsltest.Response{Raw: testdata(t, "no-distros.txt"), ExitCode: wslExitFailure},
		},
		{
			name:    "no distros, error code",
			verbose: wsltest.Response{Raw: testdata(t, "no-distros-code.txt"), ExitCode: wslExitFailure},
		},
		{
			name:    "no distros in German",
			verbose: wsltest.Response{Raw: testdata(t, "no-distros-de.txt"), ExitCode: wslExitFailure},
			quiet:   &wsltest.Response{},
		},
		{
			name:    "other failure in German",
			verbose: wsltest.Response{Stdout: "Zugriff verweigert", ExitCode: wslExitFailure},
			quiet:   &wsltest.Response{Stdout: "Zugriff verweigert", ExitCode: wslExitFailure},
			wantErr: "Zugriff verweigert",
		},
		{
			name:    "failure, but distros registered",
			verbose: wsltest.Response{Stdout: "Zugriff verweigert", ExitCode: wslExitFailure},
			quiet:   &wsltest.Response{Stdout: "Ubuntu\r\n"},
			wantErr: "Zugriff verweigert",
		},
		{
			name:    "not started",
			verbose: wsltest.Response{Err: errors.ErrUnsupported},
			wantErr: "unsupported",
		},
		{
			name:    "row without version",
			verbose: wsltest.Response{Stdout: "  NAME STATE VERSION\r\n* Ubuntu Running\r\n"},
			wantErr: `unexpected line "* Ubuntu Running"`,
		},
		{
			name:    "marker alone",
			verbose: wsltest.Response{Stdout: "  NAME STATE VERSION\r\n*\r\n"},
			wantErr: `unexpected line "*"`,
		},
		{
			name:    "unknown state kept",
			verbose: wsltest.Response{Stdout: "  NAME STATE VERSION\r\n  lima-a  Wird ausgeführt  2\r\n"},
			want:    []wsl.Distro{{Name: "lima-a", State: "Wird ausgeführt", Version: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := new(wsltest.Fake).On("--list --verbose", tt.verbose)
			if tt.quiet != nil {
				fake.On("--list --quiet", *tt.quiet)
			}
			got, err := wsl.List(context.Background(), fake)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.want, got)
			wantCalls := 1
			if tt.quiet != nil {
				wantCalls = 2
			}
			assert.Len(t, fake.Calls(), wantCalls)
		})
	}
}

func TestDistroState(t *testing.T) {
	tests := []struct {
		name   string
		distro string
		want   wsl.State
	}{
		{name: "running", distro: "lima-k8s", want: wsl.Running},
		{name: "stopped", distro: "lima-default", want: wsl.Stopped},
		{name: "case-insensitive", distro: "LIMA-K8S", want: wsl.Running},
		{name: "missing", distro: "lima-gone", want: wsl.NotFound},
		{name: "prefix only", distro: "lima", want: wsl.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := new(wsltest.Fake).On("--list --verbose", wsltest.Response{Raw: testdata(t, "list.txt")})
			got, err := wsl.DistroState(context.Background(), fake, tt.distro)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTerminate(t *testing.T) {
	denied := wsltest.Response{Stdout: "Access is denied.\r\n", ExitCode: wslExitFailure}
	list := func(ds ...wsl.Distro) []wsltest.Response {
		return []wsltest.Response{{Stdout: wsltest.ListOutput(ds...)}}
	}
	tests := []struct {
		name      string
		distro    string
		terminate wsltest.Response
		list      []wsltest.Response // nil: must not be asked
		wantErr   string
		wantIs    error
	}{
		{name: "running", distro: "lima-a", terminate: wsltest.Response{}},
		{
			name:      "stopped, but wsl.exe failed",
			distro:    "lima-a",
			terminate: denied,
			list:      list(wsl.Distro{Name: "lima-a", State: wsl.Stopped, Version: 2}),
		},
		{
			name:      "missing",
			distro:    "lima-gone",
			terminate: wsltest.Response{Raw: testdata(t, "terminate-not-found.txt"), ExitCode: wslExitFailure},
			list:      []wsltest.Response{{Raw: testdata(t, "list.txt")}},
		},
		{
			name:      "missing, no distros at all",
			distro:    "lima-gone",
			terminate: wsltest.Response{Raw: testdata(t, "terminate-not-found.txt"), ExitCode: wslExitFailure},
			list:      []wsltest.Response{{Raw: testdata(t, "no-distros.txt"), ExitCode: wslExitFailure}},
		},
		{
			name:      "still running",
			distro:    "lima-a",
			terminate: denied,
			list:      list(wsl.Distro{Name: "lima-a", State: wsl.Running, Version: 2}),
			wantErr:   `failed to terminate WSL distro "lima-a", which is Running: failed to run [wsl.exe --terminate lima-a]: exit status 4294967295 (out="Access is denied.\r\n")`,
		},
		{
			name:      "state unknown",
			distro:    "lima-a",
			terminate: denied,
			list:      []wsltest.Response{{Stdout: "garbage", ExitCode: 1}},
			wantErr:   "Access is denied",
		},
		{
			name:      "hung",
			distro:    "lima-a",
			terminate: wsltest.Response{Hang: true},
			wantIs:    context.DeadlineExceeded,
		},
		{
			name:      "not started",
			distro:    "lima-a",
			terminate: wsltest.Response{Err: errors.ErrUnsupported},
			wantIs:    errors.ErrUnsupported,
		},
		{name: "empty name", wantErr: "empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			fake := new(wsltest.Fake).On("--terminate "+tt.distro, tt.terminate)
			fake.On("--list --verbose", tt.list...)
			fake.On("--list --quiet", wsltest.Response{ExitCode: 1})

			err := wsl.Terminate(ctx, fake, tt.distro)
			switch {
			case tt.wantIs != nil:
				require.ErrorIs(t, err, tt.wantIs)
			case tt.wantErr != "":
				require.ErrorContains(t, err, tt.wantErr)
			default:
				require.NoError(t, err)
			}
			if tt.distro == "" {
				assert.Empty(t, fake.Calls())
				return
			}
			assert.Equal(t, []string{"--terminate", tt.distro}, fake.Calls()[0])
			if tt.list == nil {
				assert.Len(t, fake.Calls(), 1, "the state must not be asked")
			}
		})
	}
}

func TestWaitStopped(t *testing.T) {
	state := func(s wsl.State) wsltest.Response {
		return wsltest.Response{Stdout: wsltest.ListOutput(wsl.Distro{Name: "lima-a", State: s, Version: 2})}
	}
	tests := []struct {
		name      string
		list      []wsltest.Response
		wantErr   string
		wantIs    error
		wantCalls int
	}{
		{name: "stopped", list: []wsltest.Response{state(wsl.Stopped)}, wantCalls: 1},
		{
			name:      "stops after a while",
			list:      []wsltest.Response{state(wsl.Running), state(wsl.Running), state(wsl.Stopped)},
			wantCalls: 3,
		},
		{name: "gone", list: []wsltest.Response{{Stdout: wsltest.ListOutput()}}, wantCalls: 1},
		{
			name:    "never stops",
			list:    []wsltest.Response{state(wsl.Running)},
			wantErr: `WSL distro "lima-a" is still Running`,
			wantIs:  context.DeadlineExceeded,
		},
		{
			name:      "wsl.exe fails",
			list:      []wsltest.Response{state(wsl.Running), {Err: errors.New("boom")}},
			wantErr:   "boom",
			wantCalls: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			fake := new(wsltest.Fake).On("--list --verbose", tt.list...)

			err := wsl.WaitStopped(ctx, fake, "lima-a")
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
			}
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			if tt.wantCalls > 0 {
				assert.Len(t, fake.Calls(), tt.wantCalls)
			}
		})
	}
}

func TestShutdown(t *testing.T) {
	tests := []struct {
		name    string
		resp    wsltest.Response
		wantErr string
	}{
		{name: "ok", resp: wsltest.Response{}},
		{name: "fails", resp: wsltest.Response{Stdout: "no", ExitCode: 1}, wantErr: "failed to shut down WSL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := new(wsltest.Fake).On("--shutdown", tt.resp)
			err := wsl.Shutdown(context.Background(), fake)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, [][]string{{"--shutdown"}}, fake.Calls())
		})
	}
}

func TestDistroName(t *testing.T) {
	assert.Equal(t, "lima-default", wsl.DistroName("default"))
}

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsltest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/wsl"
	"github.com/limastop/stop/wsl/wsltest"
)

func TestFakeRun(t *testing.T) {
	tests := []struct {
		name     string
		resp     wsltest.Response
		want     string
		wantCode int // 0: success
		wantIs   error
	}{
		{name: "stdout", resp: wsltest.Response{Stdout: "ok"}, want: "ok"},
		{name: "raw UTF-16LE", resp: wsltest.Response{Raw: wsltest.UTF16("ok\r\n")}, want: "ok\r\n"},
		{name: "exit code", resp: wsltest.Response{Stdout: "no", ExitCode: 3}, wantCode: 3},
		{name: "not started", resp: wsltest.Response{Err: errors.ErrUnsupported}, wantCode: -1, wantIs: errors.ErrUnsupported},
		{name: "delay", resp: wsltest.Response{Stdout: "late", Delay: 10 * time.Millisecond}, want: "late"},
		{name: "delay cut short", resp: wsltest.Response{Delay: time.Hour}, wantCode: -1, wantIs: context.DeadlineExceeded},
		{name: "hang", resp: wsltest.Response{Hang: true}, wantCode: -1, wantIs: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			fake := new(wsltest.Fake).On("--list --verbose", tt.resp)

			got, err := fake.Run(ctx, "--list", "--verbose")
			if tt.wantCode == 0 {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			var werr *wsl.Error
			require.ErrorAs(t, err, &werr)
			assert.Equal(t, tt.wantCode, werr.ExitCode)
			assert.Equal(t, []string{"--list", "--verbose"}, werr.Args)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
		})
	}
}

func TestFakeScript(t *testing.T) {
	fake := new(wsltest.Fake).
		On("--list --verbose", wsltest.Response{Stdout: "1"}, wsltest.Response{Stdout: "2"}).
		On("--shutdown", wsltest.Response{})
	ctx := context.Background()

	for _, want := range []string{"1", "2", "2"} {
		got, err := fake.Run(ctx, "--list", "--verbose")
		require.NoError(t, err)
		assert.Equal(t, want, got, "responses in order, the last one repeats")
	}
	_, err := fake.Run(ctx, "--terminate", "lima-a")
	require.ErrorContains(t, err, "no response scripted")
	_, err = fake.Run(ctx, "--shutdown")
	require.NoError(t, err)

	assert.Equal(t, [][]string{
		{"--list", "--verbose"}, {"--list", "--verbose"}, {"--list", "--verbose"},
		{"--terminate", "lima-a"}, {"--shutdown"},
	}, fake.Calls())
}

func TestFakeConcurrent(t *testing.T) {
	fake := new(wsltest.Fake)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			fake.On(fmt.Sprint(i), wsltest.Response{Stdout: fmt.Sprint(i)})
			got, err := fake.Run(context.Background(), fmt.Sprint(i))
			assert.NoError(t, err)
			assert.Equal(t, fmt.Sprint(i), got)
		})
	}
	wg.Wait()
	assert.Len(t, fake.Calls(), 20)
}

func TestListOutput(t *testing.T) {
	distros := []wsl.Distro{
		{Name: "Ubuntu-24.04", State: wsl.Running, Version: 2, Default: true},
		{Name: "lima-default", State: wsl.Stopped, Version: 2},
	}
	out := wsltest.ListOutput(distros...)
	assert.Equal(t, "  NAME            STATE           VERSION\r\n"+
		"* Ubuntu-24.04    Running         2\r\n"+
		"  lima-default    Stopped         2\r\n", out)

	fake := new(wsltest.Fake).On("--list --verbose", wsltest.Response{Raw: wsltest.UTF16(out)})
	got, err := wsl.List(context.Background(), fake)
	require.NoError(t, err)
	assert.Equal(t, distros, got)
}

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package processtest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them: a fake that stops
// on its own must not leave one behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

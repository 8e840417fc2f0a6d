//go:build !race

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

const raceEnabled = false

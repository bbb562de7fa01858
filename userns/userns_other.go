//go:build !linux

package userns

import (
	"fmt"
	"runtime"

	"github.com/nstopo/nstopo/netnsx"
)

// Enter returns ErrNotSupported: user and network namespaces need Linux.
func Enter() error {
	return fmt.Errorf("userns: enter: user namespaces need Linux, not %s: %w", runtime.GOOS, netnsx.ErrNotSupported)
}

// Inside reports false: there is no user namespace to be inside.
func Inside() bool { return false }

// Privileged reports false.
func Privileged() bool { return false }

//go:build !linux

package portmap

import (
	"fmt"
	"runtime"

	"github.com/nstopo/nstopo/netnsx"
)

func errNotSupported(op string) error {
	return fmt.Errorf("portmap: %s: publishing ports needs Linux's nftables, not %s: %w", op, runtime.GOOS, netnsx.ErrNotSupported)
}

func Publish(ns *netnsx.NS, cfg Config) (*Mapping, error) {
	return nil, errNotSupported("publish " + cfg.String())
}

// Remove has nothing to remove where nothing can be published.
func (m *Mapping) Remove() error { return nil }

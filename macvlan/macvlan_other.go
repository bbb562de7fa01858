//go:build !linux

package macvlan

import (
	"fmt"
	"runtime"

	"github.com/nstopo/nstopo/netnsx"
)

func errNotSupported(op string) error {
	return fmt.Errorf("macvlan: %s: macvlan links need Linux, not %s: %w", op, runtime.GOOS, netnsx.ErrNotSupported)
}

func Create(ns *netnsx.NS, cfg Config) (*Link, error) {
	return nil, errNotSupported("create " + cfg.Name)
}
func Open(ns *netnsx.NS, name string) (*Link, error) { return nil, errNotSupported("open " + name) }
func (l *Link) Mode() (Mode, error)                  { return 0, errNotSupported("mode") }

//go:build !linux

package bridge

import (
	"fmt"
	"runtime"

	"github.com/nstopo/nstopo/netnsx"
)

func errNotSupported(op string) error {
	return fmt.Errorf("bridge: %s: bridges need Linux, not %s: %w", op, runtime.GOOS, netnsx.ErrNotSupported)
}

func Create(ns *netnsx.NS, cfg Config) (*Bridge, error) {
	return nil, errNotSupported("create " + cfg.Name)
}
func Open(ns *netnsx.NS, name string) (*Bridge, error) { return nil, errNotSupported("open " + name) }
func (b *Bridge) Attach(ports ...*netnsx.Link) error   { return errNotSupported("attach") }
func (b *Bridge) Ports() ([]*netnsx.Link, error)       { return nil, errNotSupported("ports") }
func (b *Bridge) FDB() ([]netnsx.FDBEntry, error)      { return nil, errNotSupported("fdb") }

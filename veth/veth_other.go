//go:build !linux

package veth

import (
	"fmt"
	"runtime"

	"github.com/nstopo/nstopo/netnsx"
)

func errNotSupported(op string) error {
	return fmt.Errorf("veth: %s: veth pairs need Linux, not %s: %w", op, runtime.GOOS, netnsx.ErrNotSupported)
}

func Create(cfg Config) (*Pair, error) { return nil, errNotSupported("create") }
func (p *Pair) Delete() error          { return errNotSupported("delete") }

//go:build !linux

package lab

import (
	"context"
	"fmt"
	"runtime"

	"github.com/nstopo/nstopo/netnsx"
)

type proc struct{}

func errNotSupported(op string) error {
	return fmt.Errorf("lab: %s: labs need Linux, not %s: %w", op, runtime.GOOS, netnsx.ErrNotSupported)
}

func Build(ctx context.Context, s *Spec, opt *Options) (*Lab, error) {
	return nil, errNotSupported("build " + s.Name)
}
func Attach(s *Spec, opt *Options) (*Lab, error) { return nil, errNotSupported("attach " + s.Name) }
func Destroy(s *Spec, opt *Options) error        { return errNotSupported("destroy " + s.Name) }
func (l *Lab) Close() error                      { return nil }

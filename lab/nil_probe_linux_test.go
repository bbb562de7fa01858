package lab_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx"
)

// TestProbeNil: a nil Spec draws as an empty graph, and a nil context is ErrInvalid
// before anything is made (no state file either), never a panic.
func TestProbeNil(t *testing.T) {
	var s *lab.Spec
	for name, f := range map[string]func() string{"DOT": s.DOT, "Mermaid": s.Mermaid} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("(*Spec)(nil).%s panics: %v", name, p)
				}
			}()
			f()
		}()
	}
	dir := t.TempDir()
	spec := &lab.Spec{Name: "nilctx", Topology: lab.Topology{Nodes: map[string]lab.Node{"nstopo-probe-nilctx": {}}}}
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("Build(nil ctx) panics: %v", p)
			}
		}()
		//lint:ignore SA1012 the nil context is the test
		if _, err := lab.Build(nil, spec, &lab.Options{StateDir: dir}); !errors.Is(err, netnsx.ErrInvalid) {
			t.Errorf("Build(nil ctx) = %v, want ErrInvalid", err)
		}
	}()
	if files, _ := os.ReadDir(dir); len(files) > 0 {
		t.Errorf("state files after Build(nil ctx): %v", files)
	}
	var l *lab.Lab
	if _, err := l.PingAll(context.Background()); !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("nil Lab PingAll = %v", err)
	}
}

package lab_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestIntegrationProbeCancelMidBuild: ctx ending in the middle of Build — between
// links, and while an Exec command runs — ends Build with ctx's error and leaves nothing.
func TestIntegrationProbeCancelMidBuild(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	for _, at := range []string{"links", "exec"} {
		t.Run(at, func(t *testing.T) {
			s := prefixed(load(t, "article-local.yaml"))
			n := s.Topology.Nodes["container-1"]
			n.Exec = []string{"true", "sleep 60; true"}
			s.Topology.Nodes["container-1"] = n
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				l, err := lab.Build(ctx, s, &lab.Options{StateDir: dir, Progress: func(e lab.Event) {
					if e.Phase == at && e.Done == 1 {
						// For exec, while "sleep 60" runs (if it starts before).
						time.AfterFunc(200*time.Millisecond, cancel)
					}
				}})
				if err == nil {
					_ = l.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Build = %v, want context.Canceled", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Build still runs 30 s after its context ended")
			}
			if left := leftovers(t, s); len(left) > 0 {
				t.Errorf("left: %v", left)
			}
			if files, _ := os.ReadDir(dir); len(files) > 0 {
				t.Errorf("state files left: %v", files)
			}
		})
	}
}

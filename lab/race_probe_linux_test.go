package lab_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestIntegrationProbeTwoBuilds: two Builds of one spec at once. At most one succeeds;
// the one that fails leaves the winner's lab, and its state file, intact, so that
// Destroy removes it all.
func TestIntegrationProbeTwoBuilds(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	for i := 0; i < 10; i++ {
		s := prefixed(load(t, "article-local.yaml"))
		dir := t.TempDir()
		opt := &lab.Options{StateDir: dir, Persist: true}
		var (
			wg   sync.WaitGroup
			labs [2]*lab.Lab
			errs [2]error
		)
		for j := range labs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				labs[j], errs[j] = lab.Build(ctxT(t), s, opt)
			}()
		}
		wg.Wait()
		won := 0
		for j := range labs {
			if errs[j] == nil {
				won++
				_ = labs[j].Close()
			}
		}
		t.Logf("round %d: %d won: %v / %v", i, won, errs[0], errs[1])
		if won > 1 {
			t.Fatalf("round %d: both Builds succeeded", i)
		}
		if won == 1 {
			if _, err := os.Stat(filepath.Join(dir, s.Name+".json")); err != nil {
				t.Errorf("round %d: the winner's state file is gone (%v); loser: %v / %v", i, err, errs[0], errs[1])
			}
		}
		if err := lab.Destroy(s, opt); err != nil {
			t.Errorf("round %d: Destroy: %v", i, err)
		}
		if left := leftovers(t, s); len(left) > 0 {
			t.Errorf("round %d: left after Destroy: %v", i, left)
			for _, n := range left {
				_ = os.Remove(filepath.Join("/run/netns", n)) // best effort; unmount below
			}
		}
	}
}

// TestIntegrationProbeDestroyDuringBuild: a Destroy while Build runs is refused, and the
// Build goes on to a whole lab that a later Destroy removes.
func TestIntegrationProbeDestroyDuringBuild(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	s := prefixed(load(t, "article-local.yaml"))
	opt := &lab.Options{StateDir: t.TempDir(), Persist: true}
	var during error
	called := false
	opt.Progress = func(e lab.Event) {
		if e.Phase == "links" && !called {
			called = true
			during = lab.Destroy(s, &lab.Options{StateDir: opt.StateDir})
		}
	}
	l, err := lab.Build(ctxT(t), s, opt)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	if !errors.Is(during, netnsx.ErrExists) {
		t.Errorf("Destroy during Build = %v, want ErrExists", during)
	}
	if left := leftovers(t, s); len(left) != 3 {
		t.Errorf("after a refused Destroy: %v, want all 3", left)
	}
	if err := lab.Destroy(s, &lab.Options{StateDir: opt.StateDir}); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, s); len(left) != 0 {
		t.Errorf("after Destroy: %v", left)
	}
}

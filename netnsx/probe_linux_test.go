package netnsx_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestIntegrationProbeLinkOps: the in-place calls against closed, deleted and
// immovable things: each an error with the true sentinel, never a panic.
func TestIntegrationProbeLinkOps(t *testing.T) {
	a, b, _ := joined(t, false, "10.42.0.1/24", "10.42.0.2/24")
	l, err := a.Link("eth0")
	if err != nil {
		t.Fatal(err)
	}
	closed := netnsxtest.New(t, "closed")
	cl, err := netnsx.Open(closed.Name())
	if err != nil {
		t.Fatal(err)
	}
	_ = cl.Close()
	if err := l.SetNS(cl); !errors.Is(err, netnsx.ErrClosed) && !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("SetNS(closed) = %v", err)
	}
	if err := l.SetNS(nil); !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("SetNS(nil) = %v", err)
	}
	lo, _ := a.Link("lo")
	if err := lo.SetNS(b); !errors.Is(err, netnsx.ErrExists) {
		t.Errorf("SetNS of lo = %v, want ErrExists (every namespace has a lo)", err)
	}
	br, err := bridge.Create(a, bridge.Config{Name: "br9"})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.Link.SetNS(b); !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("SetNS of a bridge = %v, want ErrInvalid", err)
	}
	if err := l.SetNS(b); !errors.Is(err, netnsx.ErrExists) {
		t.Errorf("SetNS into a clash = %v, want ErrExists", err)
	}
	if got, _ := a.Link("eth0"); got == nil {
		t.Errorf("after a refused move eth0 is not in a")
	}
	p := netip.MustParsePrefix("10.42.0.1/24")
	if err := l.RemoveAddr(p); err != nil {
		t.Fatal(err)
	}
	if err := l.RemoveAddr(p); !errors.Is(err, netnsx.ErrNotFound) {
		t.Errorf("RemoveAddr twice = %v, want ErrNotFound", err)
	}
	r := netnsx.Route{Dst: netip.MustParsePrefix("10.99.0.0/16"), Dev: "eth0"}
	if err := a.DeleteRoute(r); !errors.Is(err, netnsx.ErrNotFound) {
		t.Errorf("DeleteRoute of none = %v, want ErrNotFound", err)
	}
	// A *Link whose namespace is deleted.
	gone := netnsxtest.New(t, "gone")
	gl, _ := gone.Link("lo")
	if err := gone.Delete(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"SetName":  func() error { return gl.SetName("x") },
		"SetNS":    func() error { return gl.SetNS(b) },
		"RemoveAd": func() error { return gl.RemoveAddr(p) },
		"NoMaster": func() error { return gl.NoMaster() },
		"Stats":    func() error { _, err := gl.Stats(); return err },
		"into":     func() error { return l.SetNS(gone) },
		"Replace":  func() error { return gone.ReplaceRoute(r) },
		"Delete":   func() error { return gone.DeleteRoute(r) },
		"Output":   func() error { _, err := gone.Output(context.Background(), "true"); return err },
	} {
		if err := f(); !errors.Is(err, netnsx.ErrClosed) {
			t.Errorf("%s on a deleted namespace = %v, want ErrClosed", name, err)
		}
	}
}

// TestIntegrationProbeOutputGrandchild: ctx ends Output even when the program's child
// holds its standard output open.
func TestIntegrationProbeOutputGrandchild(t *testing.T) {
	a := netnsxtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := a.Output(ctx, "sh", "-c", "sleep 30; true")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Output = %v, want DeadlineExceeded", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Output still waits 20 s after its context ended")
	}
}

// TestIntegrationProbeOutputCancelled: an Output whose ctx is already done starts nothing.
func TestIntegrationProbeOutputCancelled(t *testing.T) {
	a := netnsxtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Output(ctx, "sh", "-c", "exit 0"); !errors.Is(err, context.Canceled) {
		t.Errorf("Output(cancelled) = %v, want context.Canceled", err)
	}
}

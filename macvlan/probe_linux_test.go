package macvlan_test

import (
	"errors"
	"testing"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/macvlan"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestIntegrationProbeParentGone: a parent deleted before Create, and one whose index
// another link has taken since, are refused: no macvlan is made on a link not named.
func TestIntegrationProbeParentGone(t *testing.T) {
	host, c := netnsxtest.New(t, "host"), netnsxtest.New(t, "c")
	parent := uplink(t, host)
	br, err := bridge.Create(host, bridge.Config{Name: "br7"})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := macvlan.Create(host, macvlan.Config{Name: "mv0", Parent: br.Link, NS: c}); !errors.Is(err, netnsx.ErrNotFound) {
		t.Errorf("Create on a deleted parent = %v, want ErrNotFound", err)
	}
	// The ns argument closed.
	cl, err := netnsx.Open(host.Name())
	if err != nil {
		t.Fatal(err)
	}
	p2, err := cl.Link(parent.Name())
	if err != nil {
		t.Fatal(err)
	}
	_ = cl.Close()
	if _, err := macvlan.Create(cl, macvlan.Config{Name: "mv1", Parent: p2, NS: c}); !errors.Is(err, netnsx.ErrClosed) && !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("Create in a closed ns = %v", err)
	}
	// Same name as the parent, beside it.
	if _, err := macvlan.Create(host, macvlan.Config{Name: parent.Name(), Parent: parent, NS: host}); !errors.Is(err, netnsx.ErrExists) {
		t.Errorf("Create named as its parent = %v, want ErrExists", err)
	}
	if links, _ := c.Links(); len(links) != 1 {
		t.Errorf("links in c after refused Creates: %v", links)
	}
}

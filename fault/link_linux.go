package fault

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx"
)

// LinkDown is a link this package took down, made by [Down]. Remove brings it up again.
type LinkDown struct {
	link  *netnsx.Link
	wait  []*netnsx.Link
	saved linkState

	mu      sync.Mutex
	removed bool
}

// linkState is what the kernel forgets when a link goes down: IPv6 addresses other than
// link-local ones, the routes through the link that were added by hand (IPv4 and IPv6),
// and permanent neighbour entries. Kept by Down, restored by Remove.
type linkState struct {
	addrs  []netip.Prefix
	routes []rtnl.Route
	neighs []rtnl.Neigh
}

func saveState(c *rtnl.Conn, index int) (linkState, error) {
	var st linkState
	addrs, err := c.Addrs(index)
	if err != nil {
		return st, err
	}
	for _, a := range addrs {
		if a.Prefix.Addr().Is6() && !a.Prefix.Addr().IsLinkLocalUnicast() {
			st.addrs = append(st.addrs, a.Prefix)
		}
	}
	routes, err := c.Routes()
	if err != nil {
		return st, err
	}
	for _, r := range routes {
		if r.OIF == index && r.Protocol != unix.RTPROT_KERNEL {
			st.routes = append(st.routes, r)
		}
	}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		ns, err := c.Neighs(fam)
		if err != nil {
			return st, err
		}
		for _, n := range ns {
			if n.Index == index && n.State&unix.NUD_PERMANENT != 0 {
				st.neighs = append(st.neighs, n)
			}
		}
	}
	return st, nil
}

// restore puts back what the link lost: addresses first, since routes may need their
// prefixes to reach a gateway. What is there already is left as it is.
func (st linkState) restore(c *rtnl.Conn, index int) error {
	for _, p := range st.addrs {
		if err := c.AddrAdd(index, p); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("address %s: %w", p, err)
		}
	}
	for _, r := range st.routes {
		r.Src = netip.Addr{} // RouteAdd sets no preferred source; the kernel picks it again
		if err := c.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("route %s: %w", r.Dst, err)
		}
	}
	for _, n := range st.neighs {
		if err := c.NeighAdd(n, rtnl.NeighReplace); err != nil {
			return fmt.Errorf("neighbor %s: %w", n.IP, err)
		}
	}
	return nil
}

func checkLinks(link *netnsx.Link, wait []*netnsx.Link) error {
	if link == nil {
		return errdefs.Invalid("nil link")
	}
	for i, w := range wait {
		if w == nil {
			return errdefs.Invalid("wait[%d] is a nil link", i)
		}
	}
	return nil
}

func setUp(c *rtnl.Conn, link *netnsx.Link, up bool) error {
	return c.LinkSet(link.Index(), rtnl.LinkChange{Up: &up})
}

// Down takes link down, as `ip link set dev D down` does. Remove brings it up again
// and waits until it, and every link in wait, carries traffic again: give a veth's
// other end there, whose queueing the kernel also detached when it lost its carrier.
//
// A link that goes down loses its IPv6 addresses (but link-local ones), every route
// through it that was added by hand, IPv4 and IPv6, and its permanent neighbour entries:
// `ip link set down; ip link set up` leaves "no route to host" behind. Down keeps them,
// and Remove puts them back (routes in the main table, with one next hop).
func Down(link *netnsx.Link, wait ...*netnsx.Link) (*LinkDown, error) {
	if err := checkLinks(link, wait); err != nil {
		return nil, fmt.Errorf("fault: down %s: %w", link, err)
	}
	d := &LinkDown{link: link, wait: wait}
	err := useNS(link.NS(), func(c *rtnl.Conn, _ int) (err error) {
		if d.saved, err = saveState(c, link.Index()); err != nil {
			return err
		}
		return setUp(c, link, false)
	})
	if err != nil {
		return nil, fmt.Errorf("fault: down %s in %s: %w", link, link.NS(), errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return d, nil
}

// Remove brings the link up, restores what it lost going down, and waits, up to 10 s,
// until it and the links Down was given to wait for are operationally up with their
// queueing attached, so that a dial right after does not lose its SYN. It is
// idempotent.
func (d *LinkDown) Remove() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.removed {
		return nil
	}
	err := useNS(d.link.NS(), func(c *rtnl.Conn, _ int) error {
		if err := setUp(c, d.link, true); err != nil {
			return err
		}
		return d.saved.restore(c, d.link.Index())
	})
	if errors.Is(err, unix.ENODEV) {
		d.removed = true // the link is gone, and what Down took with it
		return nil
	}
	if err != nil {
		return fmt.Errorf("fault: up %s in %s: %w", d.link, d.link.NS(), errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	d.removed = true
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for _, l := range append([]*netnsx.Link{d.link}, d.wait...) {
		err := useNS(l.NS(), func(c *rtnl.Conn, _ int) error { return rtnl.WaitReady(ctx, c, l.Index()) })
		if err != nil {
			return fmt.Errorf("fault: wait for %s in %s: %w", l, l.NS(), errdefs.Kernel(err, "CAP_NET_ADMIN"))
		}
	}
	return nil
}

// Flap takes link down for the time given, brings it up and waits until it and the
// links in wait carry traffic again (see [Down]).
func Flap(link *netnsx.Link, down time.Duration, wait ...*netnsx.Link) error {
	if down < 0 {
		return fmt.Errorf("fault: flap %s: %w", link, errdefs.Invalid("negative down time %v", down))
	}
	d, err := Down(link, wait...)
	if err != nil {
		return err
	}
	time.Sleep(down)
	return d.Remove()
}

package fault

import (
	"fmt"
	"time"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx"
)

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

func setUp(link *netnsx.Link, up bool) error {
	return useNS(link.NS(), func(c *rtnl.Conn, _ int) error {
		return c.LinkSet(link.Index(), rtnl.LinkChange{Up: &up})
	})
}

// Down takes link down, as `ip link set dev D down` does. Remove brings it up again
// and waits until it, and every link in wait, carries traffic again: give a veth's
// other end there, whose queueing the kernel also detached when it lost its carrier.
//
// The kernel forgets, with the link, the IPv4 routes through it that were added by hand
// (connected routes come back with their addresses); add them again after Remove.
func Down(link *netnsx.Link, wait ...*netnsx.Link) (*LinkDown, error) {
	if err := checkLinks(link, wait); err != nil {
		return nil, fmt.Errorf("fault: down %s: %w", link, err)
	}
	if err := setUp(link, false); err != nil {
		return nil, fmt.Errorf("fault: down %s in %s: %w", link, link.NS(), errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return &LinkDown{link: link, wait: wait}, nil
}

// Remove brings the link up and waits, up to 10 s, until it and the links Down was
// given to wait for are operationally up with their queueing attached, so that a dial
// right after does not lose its SYN. It is idempotent.
func (d *LinkDown) Remove() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.removed {
		return nil
	}
	if err := setUp(d.link, true); err != nil {
		return fmt.Errorf("fault: up %s in %s: %w", d.link, d.link.NS(), errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	d.removed = true
	for _, l := range append([]*netnsx.Link{d.link}, d.wait...) {
		err := useNS(l.NS(), func(c *rtnl.Conn, _ int) error { return rtnl.WaitReady(c, l.Index(), readyTimeout) })
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

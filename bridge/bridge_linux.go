package bridge

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/kind"
	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx"
)

// Create creates a bridge in ns, up, and adds its addresses. If any step fails, the
// bridge is removed.
func Create(ns *netnsx.NS, cfg Config) (*Bridge, error) {
	op := errdefs.Op("create", cfg.Name)
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("bridge: %s: %w", op, err)
	}
	l, err := ns.AddLink(spec(cfg))
	if err != nil {
		return nil, fmt.Errorf("bridge: %s: %w", op, err)
	}
	return &Bridge{l}, nil
}

// spec is a checked Config as netnsx adds it.
type spec Config

func (s spec) LinkSpec() (netnsx.LinkAttrs, kind.Info) {
	k := kind.Info{Kind: "bridge"}
	if s.STP {
		k.Data = append(k.Data, kind.U32(unix.IFLA_BR_STP_STATE, 1))
	}
	if s.VLANFiltering {
		k.Data = append(k.Data, kind.U8(unix.IFLA_BR_VLAN_FILTERING, 1))
	}
	return netnsx.LinkAttrs{Name: s.Name, MTU: s.MTU, HardwareAddr: s.HardwareAddr, Addrs: s.Addrs}, k
}

// Open returns the bridge called name in ns. A link that is not a bridge is
// ErrInvalid.
func Open(ns *netnsx.NS, name string) (*Bridge, error) {
	op := errdefs.Op("open", name)
	if err := check.IfName("name", name); err != nil {
		return nil, fmt.Errorf("bridge: %s: %w", op, err)
	}
	var br *Bridge
	err := ns.Netlink(func(c *rtnl.Conn, _ int) error {
		l, err := c.LinkByName(name)
		if err != nil {
			return err
		}
		if l.Kind != "bridge" {
			return errdefs.Invalid("%s is a %q link, not a bridge", name, l.Kind)
		}
		br = &Bridge{ns.LinkOf(l)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bridge: %s: %w", op, errdefs.Kernel(err, ""))
	}
	return br, nil
}

// Attach makes each link a port of the bridge. Every port must live in the bridge's
// namespace and none may be a bridge. It is all or nothing: if the kernel refuses one
// port, the ports attached before it go back to the master they had.
func (b *Bridge) Attach(ports ...*netnsx.Link) error {
	if b == nil || b.Link == nil {
		return fmt.Errorf("bridge: attach: %w", errdefs.Invalid("nil bridge"))
	}
	for _, p := range ports {
		if p == nil {
			return fmt.Errorf("bridge: attach to %s: %w", b.Name(), errdefs.Invalid("nil port"))
		}
		if p.Kind() == "bridge" { // the kernel says ELOOP
			return fmt.Errorf("bridge: attach %s to %s: %w", p.Name(), b.Name(),
				errdefs.Invalid("%s is a bridge, and a bridge cannot be a bridge port", p.Name()))
		}
		if !p.NS().SameNamespace(b.NS()) {
			return fmt.Errorf("bridge: attach %s to %s: %w", p.Name(), b.Name(),
				errdefs.Invalid("port is in namespace %s, the bridge in %s", p.NS(), b.NS()))
		}
	}
	var failed *netnsx.Link
	err := b.NS().Netlink(func(c *rtnl.Conn, _ int) (err error) {
		// Every port is looked up before any is attached: a port already gone fails the
		// call before it changes anything (attaching and detaching would leave the
		// bridge with another MAC address).
		old := make([]int, len(ports))
		for i, p := range ports {
			failed = p
			l, err := c.LinkByIndex(p.Index())
			if err != nil {
				return err
			}
			old[i] = l.Master
		}
		type undo struct{ index, master int }
		var done []undo
		defer func() {
			for i := len(done) - 1; i >= 0 && err != nil; i-- {
				_ = c.LinkSet(done[i].index, rtnl.LinkChange{Master: &done[i].master})
			}
		}()
		master := b.Index()
		for i, p := range ports {
			failed = p
			if old[i] == master {
				continue
			}
			if err := c.LinkSet(p.Index(), rtnl.LinkChange{Master: &master}); err != nil {
				return err
			}
			done = append(done, undo{p.Index(), old[i]})
		}
		return nil
	})
	if err != nil {
		obj := b.Name()
		if failed != nil {
			obj = failed.Name() + " to " + obj
		}
		return fmt.Errorf("bridge: attach %s: %w", obj, errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return nil
}

// Ports returns the links attached to the bridge.
func (b *Bridge) Ports() ([]*netnsx.Link, error) {
	if b == nil || b.Link == nil {
		return nil, fmt.Errorf("bridge: ports: %w", errdefs.Invalid("nil bridge"))
	}
	var ports []*netnsx.Link
	err := b.NS().Netlink(func(c *rtnl.Conn, _ int) error {
		ls, err := c.Links()
		for _, l := range ls {
			if l.Master == b.Index() {
				ports = append(ports, b.NS().LinkOf(l))
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bridge: ports of %s: %w", b.Name(), errdefs.Kernel(err, ""))
	}
	return ports, nil
}

// FDB returns the bridge's forwarding database: learned, static and the ports' own
// (permanent) entries, as `bridge fdb show br NAME` lists them.
func (b *Bridge) FDB() ([]netnsx.FDBEntry, error) {
	if b == nil || b.Link == nil {
		return nil, fmt.Errorf("bridge: fdb: %w", errdefs.Invalid("nil bridge"))
	}
	return b.Link.FDB()
}

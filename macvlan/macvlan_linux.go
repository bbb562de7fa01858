package macvlan

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/vishvananda/netlink/nl"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx"
)

// readyTimeout bounds the wait for the kernel to mark the new link operationally up.
const readyTimeout = 5 * time.Second

// Create makes a macvlan link on cfg.Parent, which lives in ns, directly inside
// cfg.NS under its final name (one request: nothing is made in ns and moved), up, with
// its MAC and MTU, then adds its addresses and, when the parent carries traffic,
// returns once the link does too. If any step fails, the link is deleted.
func Create(ns *netnsx.NS, cfg Config) (*Link, error) {
	op := errdefs.Op("create", cfg.Name)
	if err := validate(ns, &cfg); err != nil {
		return nil, fmt.Errorf("macvlan: %s: %w", op, err)
	}
	l, err := create(ns, &cfg)
	if err != nil {
		return nil, fmt.Errorf("macvlan: %s: %w", op, err)
	}
	return l, nil
}

// validate checks what needs no syscall.
func validate(ns *netnsx.NS, cfg *Config) error {
	if ns == nil {
		return errdefs.Invalid("nil namespace (the host is netnsx.Host())")
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if p := cfg.Parent; !ns.SameNamespace(p.NS()) {
		return errdefs.Invalid("Parent %s is in namespace %s, not in %s", p.Name(), p.NS(), ns)
	}
	return nil
}

func create(ns *netnsx.NS, cfg *Config) (_ *Link, err error) {
	var parent *rtnl.Link
	err = ns.Netlink(func(c *rtnl.Conn, _ int) (err error) {
		parent, err = c.LinkByIndex(cfg.Parent.Index())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("parent %s: %w", cfg.Parent.Name(), errdefs.Kernel(err, ""))
	}
	if cfg.MTU > parent.MTU {
		return nil, errdefs.Invalid("MTU %d above the %d of parent %s", cfg.MTU, parent.MTU, parent.Name)
	}
	l, err := ns.AddLink(spec{cfg: cfg})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = l.Delete()
		}
	}()
	if parent.Ready() {
		ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		defer cancel()
		err := l.NS().Netlink(func(c *rtnl.Conn, _ int) error { return rtnl.WaitReady(ctx, c, l.Index()) })
		if err != nil {
			return nil, fmt.Errorf("wait for %s: %w", l.Name(), errdefs.Kernel(err, ""))
		}
	}
	return &Link{Link: l}, nil
}

// Open returns the macvlan link called name in ns. A link of another kind is ErrInvalid.
func Open(ns *netnsx.NS, name string) (*Link, error) {
	op := errdefs.Op("open", name)
	if err := check.IfName("name", name); err != nil {
		return nil, fmt.Errorf("macvlan: %s: %w", op, err)
	}
	var out *Link
	err := ns.Netlink(func(c *rtnl.Conn, _ int) error {
		l, err := c.LinkByName(name)
		if err != nil {
			return err
		}
		if l.Kind != "macvlan" {
			return errdefs.Invalid("%s is a %q link, not a macvlan link", name, l.Kind)
		}
		out = &Link{Link: ns.LinkOf(l)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("macvlan: %s: %w", op, errdefs.Kernel(err, ""))
	}
	return out, nil
}

// Mode reads the link's mode from the kernel, as `ip -d link show` prints it.
func (l *Link) Mode() (Mode, error) {
	if l == nil || l.Link == nil {
		return 0, fmt.Errorf("macvlan: mode: %w", errdefs.Invalid("nil link"))
	}
	var m Mode
	err := l.NS().Netlink(func(c *rtnl.Conn, _ int) error {
		k, err := c.LinkByIndex(l.Index())
		if err != nil {
			return err
		}
		if k.Kind != "macvlan" {
			return errdefs.Invalid("%s is a %q link now, not a macvlan link", l.Name(), k.Kind)
		}
		v := parseMode(k.Data)
		var ok bool
		if m, ok = modeOf(v); !ok {
			return fmt.Errorf("%w: mode %d", netnsx.ErrNotSupported, v)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("macvlan: mode of %s: %w", l.Name(), errdefs.Kernel(err, ""))
	}
	return m, nil
}

// parseMode reads IFLA_MACVLAN_MODE from IFLA_INFO_DATA; 0 (no mode) when absent.
func parseMode(data []byte) uint32 {
	as, err := nl.ParseRouteAttr(data)
	if err != nil {
		return 0
	}
	for _, a := range as {
		if a.Attr.Type&0x3fff == iflaMacvlanMode && len(a.Value) >= 4 {
			return binary.NativeEndian.Uint32(a.Value)
		}
	}
	return 0
}

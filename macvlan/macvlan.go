package macvlan

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/kind"
	"github.com/nstopo/nstopo/netnsx"
)

// Mode is how macvlan links on one parent reach each other (IFLA_MACVLAN_MODE).
type Mode int

// The modes. The zero value is VEPA: what `ip link add ... type macvlan` makes when
// no mode is given (the kernel's default).
const (
	VEPA     Mode = iota // to each other only through the switch beyond the parent (802.1Qbg)
	Bridge               // to each other directly, inside the parent; Docker's choice
	Private              // never to each other
	Passthru             // the parent's one macvlan takes over the parent's traffic
)

// Kernel values of IFLA_MACVLAN_MODE (linux/if_link.h).
const (
	modePrivate  = 1
	modeVEPA     = 2
	modeBridge   = 4
	modePassthru = 8
)

var modes = [...]struct {
	name  string
	value uint32
}{
	VEPA:     {"vepa", modeVEPA},
	Bridge:   {"bridge", modeBridge},
	Private:  {"private", modePrivate},
	Passthru: {"passthru", modePassthru},
}

// String is the mode as `ip -d link` prints it: "vepa", "bridge", "private", "passthru".
func (m Mode) String() string {
	if m < 0 || int(m) >= len(modes) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modes[m].name
}

// modeOf maps the kernel's value back to a Mode; false for modes this package does not
// make (source).
func modeOf(v uint32) (Mode, bool) {
	for m, e := range modes {
		if e.value == v {
			return Mode(m), true
		}
	}
	return 0, false
}

// Config describes a macvlan link. Zero fields mean what `ip link add` means.
type Config struct {
	Name   string       // required: 1-15 bytes, its name in NS
	Parent *netnsx.Link // required: the lower device, in the namespace passed to Create
	Mode   Mode         // zero: VEPA, ip's default
	// NS is where the link is made and lives; required, because a nil namespace is
	// never the host: to keep the link beside its parent, pass that namespace itself.
	NS           *netnsx.NS
	Addrs        []netip.Prefix   // none: no address
	HardwareAddr net.HardwareAddr // nil: the kernel picks a random one
	MTU          int              // 0: the parent's; never above the parent's
}

// Link is a macvlan link, in the namespace it was placed in.
type Link struct {
	*netnsx.Link
}

func (c *Config) validate() error {
	if err := check.IfName("Name", c.Name); err != nil {
		return err
	}
	if c.Parent == nil {
		return errdefs.Invalid("Parent is nil")
	}
	if c.NS == nil {
		return errdefs.Invalid("NS is nil (the host is netnsx.Host(); to keep the link beside its parent, pass that namespace)")
	}
	if c.Mode < 0 || int(c.Mode) >= len(modes) {
		return errdefs.Invalid("Mode %d is none of VEPA, Bridge, Private, Passthru", int(c.Mode))
	}
	if err := check.Prefixes("Addrs", c.Addrs); err != nil {
		return err
	}
	if err := check.MAC("HardwareAddr", c.HardwareAddr); err != nil {
		return err
	}
	return check.MTU("MTU", c.MTU)
}

// spec is a checked Config as netnsx adds it: made in the parent's namespace, placed
// in NS by the same request.
type spec struct{ cfg *Config }

func (s spec) LinkSpec() (netnsx.LinkAttrs, kind.Info) {
	c := s.cfg
	// The mode is always sent, so that the kernel's default never decides for us.
	k := kind.Info{Kind: "macvlan", Data: []kind.Attr{kind.U32(iflaMacvlanMode, modes[c.Mode].value)}}
	return netnsx.LinkAttrs{
		Name: c.Name, MTU: c.MTU, HardwareAddr: c.HardwareAddr, Addrs: c.Addrs,
		Parent: c.Parent, Target: c.NS,
	}, k
}

const iflaMacvlanMode = 1 // IFLA_MACVLAN_MODE

package vxlan

import (
	"net"
	"net/netip"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/netnsx"
)

// UDP ports: Linux's historic default, and the one IANA assigned (RFC 7348).
const (
	LinuxPort = 8472
	IANAPort  = 4789
)

// MaxVNI is the largest 24-bit VXLAN network identifier.
const MaxVNI = 1<<24 - 1

// Config describes a VXLAN device. Zero fields mean what `ip link add NAME type vxlan`
// means.
type Config struct {
	Name     string     // required: 1-15 bytes
	VNI      uint32     // the network identifier, 0..16777215
	Underlay string     // the device VXLAN packets leave by (`dev eth0`); "": any, by route
	Local    netip.Addr // the source VTEP address; zero: chosen by route
	Group    netip.Addr // a multicast group for flooding; needs Underlay; zero: none
	Port     uint16     // UDP destination port; 0: LinuxPort 8472, as `dstport 0`

	DisableLearning bool // false: learn remote MACs from received packets, as ip does
	// Proxy answers ARP and neighbour solicitations locally from the device's neighbour
	// entries (AddNeighbor, SetPeers), as Docker's overlay does; false, as ip's
	// default: they go out over VXLAN like any other broadcast.
	Proxy bool
	// TTL of the outer IP header; 0, as ip's default: the route's hop limit (64
	// unless set), and 1 towards a multicast Group.
	TTL          uint8
	MTU          int              // 0: derived by the kernel from the underlay
	HardwareAddr net.HardwareAddr // nil: the kernel picks a random one

	Addrs  []netip.Prefix // added after creation
	Master *netnsx.Link   // a bridge in the same namespace to attach to; nil: none
}

// is6 reports whether the device speaks IPv6 on the underlay.
func (c *Config) is6() bool { return c.Local.Is6() || c.Group.Is6() }

func (c *Config) validate() error {
	if err := check.IfName("Name", c.Name); err != nil {
		return err
	}
	if c.VNI > MaxVNI {
		return errdefs.Invalid("VNI %d out of range 0..%d", c.VNI, MaxVNI)
	}
	if c.Underlay != "" {
		if err := check.IfName("Underlay", c.Underlay); err != nil {
			return err
		}
	}
	if c.Local.IsValid() {
		if err := check.Unicast("Local", c.Local); err != nil {
			return err
		}
	}
	if c.Group.IsValid() {
		if err := check.Multicast("Group", c.Group); err != nil {
			return err
		}
		if c.Underlay == "" {
			return errdefs.Invalid("Group %s needs an Underlay device to join it on", c.Group)
		}
		if c.Local.IsValid() && c.Local.Is4() != c.Group.Is4() {
			return errdefs.Invalid("Local %s and Group %s are of different families", c.Local, c.Group)
		}
	}
	if err := check.MTU("MTU", c.MTU); err != nil {
		return err
	}
	if err := check.Prefixes("Addrs", c.Addrs); err != nil {
		return err
	}
	if err := check.MAC("HardwareAddr", c.HardwareAddr); err != nil {
		return err
	}
	if m := c.Master; m != nil && m.Kind() != "bridge" {
		return errdefs.Invalid("Master %s is a %q link, not a bridge", m.Name(), m.Kind())
	}
	return nil
}

// vtep checks a remote VTEP against the device's underlay family.
func vtep(a netip.Addr, ipv6 bool) error {
	if err := check.Unicast("VTEP", a); err != nil {
		return err
	}
	if a.Is6() != ipv6 {
		fam := "IPv4"
		if ipv6 {
			fam = "IPv6"
		}
		return errdefs.Invalid("VTEP %s is not %s like the device's underlay", a, fam)
	}
	return nil
}

func (d *Device) checkVTEP(v netip.Addr) error {
	if d == nil || d.Link == nil {
		return errdefs.Invalid("nil device")
	}
	return vtep(v, d.ipv6)
}

// Device is a VXLAN device. It embeds its link.
type Device struct {
	*netnsx.Link
	ipv6 bool // the underlay family, known from Create or Open
}

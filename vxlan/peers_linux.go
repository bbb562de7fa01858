package vxlan

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/rtnl"
)

// SetPeers makes the device's forwarding state exactly peers:
//
//   - the flood list is the distinct VTEPs (as [Device.SetRemotes]);
//   - the static forwarding entries (self, permanent) are exactly the MAC → VTEP pairs,
//     and when the device is a bridge port, the bridge has a static entry on it for
//     each of those MACs (as [Device.AddFDB]);
//   - the permanent neighbour entries are exactly the IP → MAC pairs (as
//     [Device.AddNeighbor]).
//
// It reads the current state once — one dump of the forwarding database, one of each
// neighbour table and, when a MAC has no bridge entry, one look-up of the device to learn
// whether it is a bridge port — and sends a request only for what differs: a call that
// finds the device as asked reads and sends no change, cheap enough to run on
// every event of a watch. Learned entries and the bridge's own entries are left alone,
// and so is a multicast Group's flood entry.
//
// Every peer is checked before any request; a refusal wraps ErrInvalid and changes
// nothing: a VTEP that is not a unicast address of the underlay's family, an IP
// without a MAC, a MAC that is not unicast, one MAC behind two VTEPs, one IP with two
// MACs. If the kernel refuses a request, SetPeers stops there: the device holds part of
// the change and the next call completes it. The Changes it returns count what was
// sent, also on error.
func (d *Device) SetPeers(peers []Peer) (Changes, error) {
	want, err := d.desire(peers)
	if err != nil {
		return Changes{}, fmt.Errorf("vxlan: set peers of %s: %w", d.name(), err)
	}
	var ch Changes
	err = d.use("set peers of", func(c *rtnl.Conn) error { return d.reconcile(c, want, &ch) })
	return ch, err
}

// current is what the kernel holds for the device, keyed as peerSet is.
type current struct {
	flood  map[netip.Addr]bool
	fdb    map[[6]byte][]netip.Addr // permanent self entries; an appended MAC has several
	master map[[6]byte]bool         // the bridge's static entries on the device
	neigh  map[netip.Addr]neighbor  // every neighbour entry, permanent or not
}

type neighbor struct {
	mac       [6]byte
	permanent bool
}

func (d *Device) read(c *rtnl.Conn) (*current, error) {
	cur := &current{flood: map[netip.Addr]bool{}, fdb: map[[6]byte][]netip.Addr{}, master: map[[6]byte]bool{}, neigh: map[netip.Addr]neighbor{}}
	idx := d.Index()
	br, err := c.Neighs(unix.AF_BRIDGE)
	if err != nil {
		return nil, err
	}
	for i := range br {
		n := &br[i]
		if n.Index != idx || len(n.HardwareAddr) != 6 {
			continue
		}
		mac := [6]byte(n.HardwareAddr)
		switch {
		case n.Master != 0: // the bridge's entry, which the bridge marks with NDA_MASTER
			if n.State == unix.NUD_NOARP { // static; permanent would be the bridge's own
				cur.master[mac] = true
			}
		case n.Flags&unix.NTF_SELF == 0 || !n.IP.IsValid():
		case bytes.Equal(n.HardwareAddr, rtnl.ZeroMAC):
			if !n.IP.IsMulticast() { // a Group's entry is the device's, not a peer's
				cur.flood[n.IP] = true
			}
		case n.State&unix.NUD_PERMANENT != 0:
			cur.fdb[mac] = append(cur.fdb[mac], n.IP)
		}
	}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		ns, err := c.Neighs(fam)
		if err != nil {
			return nil, err
		}
		for i := range ns {
			n := &ns[i]
			if n.Index != idx || !n.IP.IsValid() {
				continue
			}
			var nb neighbor
			if len(n.HardwareAddr) == 6 {
				nb.mac = [6]byte(n.HardwareAddr)
			}
			nb.permanent = n.State&unix.NUD_PERMANENT != 0
			cur.neigh[n.IP] = nb
		}
	}
	return cur, nil
}

// reconcile adds before it removes, so that a peer that moves is never unreachable
// in between.
func (d *Device) reconcile(c *rtnl.Conn, want *peerSet, ch *Changes) error {
	cur, err := d.read(c)
	if err != nil {
		return err
	}
	// Only what the kernel took is counted: a refused request changed nothing.
	send := func(step string, count *int, req func() error) error {
		if err := req(); err != nil {
			return fmt.Errorf("%s: %w", step, err)
		}
		*count++
		return nil
	}
	// The bridge's entries need to know whether the device is a port; ask only when
	// an entry is missing there.
	port, asked := false, false
	isPort := func() (bool, error) {
		if !asked {
			l, err := c.LinkByIndex(d.Index())
			if err != nil {
				return false, err
			}
			port, asked = l.Master != 0, true
		}
		return port, nil
	}

	for _, v := range want.vteps {
		if !cur.flood[v] {
			if err := send("add remote "+v.String(), &ch.Added, func() error {
				return ignore(c.NeighAdd(d.selfEntry(rtnl.ZeroMAC, v), rtnl.NeighAppend), unix.EEXIST)
			}); err != nil {
				return err
			}
		}
	}
	for mac, v := range want.fdb {
		hw := net.HardwareAddr(mac[:])
		have := cur.fdb[mac]
		switch {
		case len(have) == 1 && have[0] == v:
		case len(have) > 1: // appended by someone: start over with the one destination
			if err := send("remove fdb "+hw.String(), &ch.Removed, func() error {
				return ignore(c.NeighDel(d.selfEntry(hw, netip.Addr{})), unix.ENOENT)
			}); err != nil {
				return err
			}
			fallthrough
		case len(have) == 0:
			if err := send("add fdb "+hw.String(), &ch.Added, func() error {
				return c.NeighAdd(d.selfEntry(hw, v), rtnl.NeighReplace)
			}); err != nil {
				return err
			}
		default:
			if err := send("replace fdb "+hw.String(), &ch.Replaced, func() error {
				return c.NeighAdd(d.selfEntry(hw, v), rtnl.NeighReplace)
			}); err != nil {
				return err
			}
		}
		if cur.master[mac] {
			continue
		}
		if p, err := isPort(); err != nil {
			return err
		} else if p {
			if err := send("add bridge fdb "+hw.String(), &ch.Added, func() error {
				return c.NeighAdd(masterEntry(d.Index(), hw), rtnl.NeighReplace)
			}); err != nil {
				return err
			}
		}
	}
	for ip, mac := range want.neigh {
		hw := net.HardwareAddr(mac[:])
		have, ok := cur.neigh[ip]
		if ok && have.permanent && have.mac == mac {
			continue
		}
		count := &ch.Added
		if ok && have.permanent {
			count = &ch.Replaced
		}
		if err := send("add neighbor "+ip.String(), count, func() error {
			return c.NeighAdd(neighEntry(d.Index(), ip, hw), rtnl.NeighReplace)
		}); err != nil {
			return err
		}
	}

	for ip, have := range cur.neigh {
		if _, ok := want.neigh[ip]; ok || !have.permanent {
			continue
		}
		if err := send("remove neighbor "+ip.String(), &ch.Removed, func() error {
			return ignore(c.NeighDel(neighEntry(d.Index(), ip, nil)), unix.ENOENT)
		}); err != nil {
			return err
		}
	}
	for mac := range cur.fdb {
		if _, ok := want.fdb[mac]; ok {
			continue
		}
		hw := net.HardwareAddr(mac[:])
		if err := send("remove fdb "+hw.String(), &ch.Removed, func() error {
			return ignore(c.NeighDel(d.selfEntry(hw, netip.Addr{})), unix.ENOENT)
		}); err != nil {
			return err
		}
		if cur.master[mac] {
			if err := send("remove bridge fdb "+hw.String(), &ch.Removed, func() error {
				return ignore(c.NeighDel(masterEntry(d.Index(), hw)), unix.ENOENT)
			}); err != nil {
				return err
			}
		}
	}
	for v := range cur.flood {
		if !want.flood[v] {
			if err := send("remove remote "+v.String(), &ch.Removed, func() error {
				return ignore(c.NeighDel(d.selfEntry(rtnl.ZeroMAC, v)), unix.ENOENT)
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// neighEntry is a permanent neighbour entry (ARP or NDP) on the device.
func neighEntry(index int, ip netip.Addr, mac net.HardwareAddr) rtnl.Neigh {
	fam := unix.AF_INET
	if ip.Is6() {
		fam = unix.AF_INET6
	}
	return rtnl.Neigh{Family: fam, Index: index, State: unix.NUD_PERMANENT, HardwareAddr: mac, IP: ip}
}

package vxlan

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
)

// Peer is a remote VTEP and, where known, one endpoint behind it. Several peers may
// name one VTEP, one for each endpoint behind it.
type Peer struct {
	VTEP netip.Addr       // required: the remote host's underlay address; goes on the flood list
	MAC  net.HardwareAddr // optional: an endpoint's MAC behind VTEP; a static FDB entry
	IP   netip.Addr       // optional, needs MAC: the endpoint's overlay address; a permanent neighbour entry
}

// Changes counts the requests that [Device.SetPeers] sent: entries added, entries
// replaced in place (a MAC moved to another VTEP, an IP to another MAC, a learned entry
// made static) and entries removed, reads not counted. A call that found the device as
// asked sends none.
type Changes struct {
	Added, Replaced, Removed int
}

// Total is the number of changes the kernel made.
func (c Changes) Total() int { return c.Added + c.Replaced + c.Removed }

// peerSet is the validated desired state of a device.
type peerSet struct {
	vteps []netip.Addr // distinct, in the caller's order
	flood map[netip.Addr]bool
	fdb   map[[6]byte]netip.Addr // MAC → VTEP
	neigh map[netip.Addr][6]byte // IP → MAC
}

// desire validates peers, all of them before any request, and folds duplicates.
func (d *Device) desire(peers []Peer) (*peerSet, error) {
	if d == nil || d.Link == nil {
		return nil, errdefs.Invalid("nil device")
	}
	s := &peerSet{flood: map[netip.Addr]bool{}, fdb: map[[6]byte]netip.Addr{}, neigh: map[netip.Addr][6]byte{}}
	for i, p := range peers {
		if err := d.checkVTEP(p.VTEP); err != nil {
			return nil, fmt.Errorf("peer %d: %w", i, err)
		}
		if !s.flood[p.VTEP] {
			s.flood[p.VTEP] = true
			s.vteps = append(s.vteps, p.VTEP)
		}
		if p.MAC == nil {
			if p.IP.IsValid() {
				return nil, fmt.Errorf("peer %d: %w", i, errdefs.Invalid("IP %s without a MAC", p.IP))
			}
			continue
		}
		if err := check.UnicastMAC("MAC", p.MAC); err != nil {
			return nil, fmt.Errorf("peer %d: %w", i, err)
		}
		mac := [6]byte(p.MAC)
		if v, ok := s.fdb[mac]; ok && v != p.VTEP {
			return nil, fmt.Errorf("peer %d: %w", i, errdefs.Invalid("MAC %s is behind both %s and %s", p.MAC, v, p.VTEP))
		}
		s.fdb[mac] = p.VTEP
		if !p.IP.IsValid() {
			continue
		}
		if err := check.Unicast("IP", p.IP); err != nil {
			return nil, fmt.Errorf("peer %d: %w", i, err)
		}
		if m, ok := s.neigh[p.IP]; ok && m != mac {
			return nil, fmt.Errorf("peer %d: %w", i, errdefs.Invalid("IP %s has both MAC %s and %s", p.IP, net.HardwareAddr(m[:]), p.MAC))
		}
		s.neigh[p.IP] = mac
	}
	return s, nil
}

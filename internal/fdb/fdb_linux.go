// Package fdb reads forwarding-database entries for the bridge and vxlan packages.
package fdb

import (
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx"
)

// List returns the AF_BRIDGE entries that keep says to keep, with device names.
func List(c *rtnl.Conn, keep func(n *rtnl.Neigh) bool) ([]netnsx.FDBEntry, error) {
	ns, err := c.Neighs(unix.AF_BRIDGE)
	if err != nil {
		return nil, err
	}
	ls, err := c.Links()
	if err != nil {
		return nil, err
	}
	names := make(map[int]string, len(ls))
	for _, l := range ls {
		names[l.Index] = l.Name
	}
	var out []netnsx.FDBEntry
	for i := range ns {
		n := &ns[i]
		if !keep(n) {
			continue
		}
		out = append(out, netnsx.FDBEntry{
			HardwareAddr: n.HardwareAddr,
			Dst:          n.IP,
			Dev:          names[n.Index],
			VLAN:         n.VLAN,
			VNI:          n.VNI,
			Permanent:    n.State&unix.NUD_PERMANENT != 0,
			Self:         n.Flags&unix.NTF_SELF != 0,
		})
	}
	return out, nil
}

//go:build !linux

package vxlan

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"

	"github.com/nstopo/nstopo/netnsx"
)

func errNotSupported(op string) error {
	return fmt.Errorf("vxlan: %s: VXLAN devices need Linux, not %s: %w", op, runtime.GOOS, netnsx.ErrNotSupported)
}

func Create(ns *netnsx.NS, cfg Config) (*Device, error) {
	return nil, errNotSupported("create " + cfg.Name)
}
func Open(ns *netnsx.NS, name string) (*Device, error)      { return nil, errNotSupported("open " + name) }
func (d *Device) AddRemote(vtep netip.Addr) error           { return errNotSupported("add remote") }
func (d *Device) RemoveRemote(vtep netip.Addr) error        { return errNotSupported("remove remote") }
func (d *Device) Remotes() ([]netip.Addr, error)            { return nil, errNotSupported("remotes") }
func (d *Device) SetRemotes(vteps []netip.Addr) error       { return errNotSupported("set remotes") }
func (d *Device) AddFDB(net.HardwareAddr, netip.Addr) error { return errNotSupported("add fdb") }
func (d *Device) RemoveFDB(net.HardwareAddr) error          { return errNotSupported("remove fdb") }
func (d *Device) FDB() ([]netnsx.FDBEntry, error)           { return nil, errNotSupported("fdb") }
func (d *Device) AddNeighbor(netip.Addr, net.HardwareAddr) error {
	return errNotSupported("add neighbor")
}
func (d *Device) SetPeers(peers []Peer) (Changes, error) {
	return Changes{}, errNotSupported("set peers")
}

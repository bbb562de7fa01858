//go:build !linux

package netnsx

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"time"
)

type nsSys struct{}

// errNotSupported wraps ErrNotSupported for every call on an OS without network
// namespaces.
func errNotSupported(op string) error {
	return fmt.Errorf("netnsx: %s: network namespaces need Linux, not %s: %w", op, runtime.GOOS, ErrNotSupported)
}

func resolve(ns *NS) (*NS, error) { return ns, errNotSupported("open host") }

func Host() (*NS, error)                     { return nil, errNotSupported("open host") }
func New(name string) (*NS, error)           { return nil, errNotSupported("new " + name) }
func Create(cfg Config) (*NS, error)         { return nil, errNotSupported("new " + cfg.Name) }
func Open(name string) (*NS, error)          { return nil, errNotSupported("open " + name) }
func OpenPath(path string) (*NS, error)      { return nil, errNotSupported("open " + path) }
func List() ([]string, error)                { return nil, errNotSupported("list") }
func Delete(name string) error               { return errNotSupported("delete " + name) }
func DeleteAll(nss ...*NS) error             { return errNotSupported("delete") }
func (ns *NS) Close() error                  { return nil }
func (ns *NS) Delete() error                 { return errNotSupported("delete") }
func (ns *NS) Do(fn func() error) error      { return errNotSupported("do") }
func (ns *NS) Start(cmd *exec.Cmd) error     { return errNotSupported("start") }
func (ns *NS) Run(cmd *exec.Cmd) error       { return errNotSupported("run") }
func (ns *NS) Link(string) (*Link, error)    { return nil, errNotSupported("link") }
func (ns *NS) Links() ([]*Link, error)       { return nil, errNotSupported("links") }
func (ns *NS) AddRoute(r Route) error        { return errNotSupported("add route") }
func (ns *NS) Routes() ([]Route, error)      { return nil, errNotSupported("routes") }
func (l *Link) Up() error                    { return errNotSupported("up") }
func (l *Link) Down() error                  { return errNotSupported("down") }
func (l *Link) AddAddr(netip.Prefix) error   { return errNotSupported("add address") }
func (l *Link) SetMaster(*Link) error        { return errNotSupported("set master") }
func (l *Link) SetMTU(int) error             { return errNotSupported("set mtu") }
func (l *Link) Delete() error                { return errNotSupported("delete link") }
func (ns *NS) RoutesIn(int) ([]Route, error) { return nil, errNotSupported("routes") }
func (ns *NS) ReplaceRoute(Route) error      { return errNotSupported("replace route") }
func (ns *NS) DeleteRoute(Route) error       { return errNotSupported("delete route") }
func (l *Link) RemoveAddr(netip.Prefix) error {
	return errNotSupported("remove address")
}
func (l *Link) SetName(string) error { return errNotSupported("rename") }
func (l *Link) SetHardwareAddr(net.HardwareAddr) error {
	return errNotSupported("set hardware address")
}
func (l *Link) SetNS(*NS) error           { return errNotSupported("move") }
func (l *Link) NoMaster() error           { return errNotSupported("set master") }
func (l *Link) Stats() (LinkStats, error) { return LinkStats{}, errNotSupported("statistics") }
func (ns *NS) Output(ctx context.Context, name string, args ...string) ([]byte, error) {
	return nil, errNotSupported("output")
}
func (l *Link) WaitReady(context.Context) error {
	return errNotSupported("wait for link")
}
func (ns *NS) AddLink(LinkSpec) (*Link, error) { return nil, errNotSupported("add link") }
func (ns *NS) SameNamespace(other *NS) bool    { return ns != nil && ns == other }
func (l *Link) FDB() ([]FDBEntry, error)       { return nil, errNotSupported("fdb") }
func (l *Link) AddFDB(FDBEntry) error          { return errNotSupported("add fdb") }
func (l *Link) AppendFDB(FDBEntry) error       { return errNotSupported("append fdb") }
func (l *Link) DeleteFDB(FDBEntry) error       { return errNotSupported("delete fdb") }
func (l *Link) AddNeighbor(netip.Addr, net.HardwareAddr) error {
	return errNotSupported("add neighbor")
}
func (l *Link) RemoveNeighbor(netip.Addr) error { return errNotSupported("remove neighbor") }
func (l *Link) Addrs() ([]netip.Prefix, error)  { return nil, errNotSupported("addresses") }
func (l *Link) HardwareAddr() (net.HardwareAddr, error) {
	return nil, errNotSupported("hardware address")
}
func (ns *NS) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	return nil, errNotSupported("dial")
}
func (ns *NS) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return nil, errNotSupported("listen")
}
func (ns *NS) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return nil, errNotSupported("listen packet")
}

func (ns *NS) Ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	return 0, errNotSupported("ping")
}
func (ns *NS) PingStats(ctx context.Context, dst netip.Addr, count int, interval time.Duration) (PingStats, error) {
	return PingStats{}, errNotSupported("ping")
}
func (ns *NS) Capture(ctx context.Context, ifname string, w io.Writer) error {
	return errNotSupported("capture")
}

// Capturer is a capture in progress.
type Capturer struct{}

func (ns *NS) StartCapture(ifname string, w io.Writer) (*Capturer, error) {
	return nil, errNotSupported("capture")
}
func (c *Capturer) Close() error                 { return nil }
func Inspect(nss ...*NS) (*Snapshot, error)      { return nil, errNotSupported("inspect") }
func (ns *NS) Sysctl(key string) (string, error) { return "", errNotSupported("sysctl") }
func (ns *NS) SetSysctl(key, value string) error { return errNotSupported("sysctl") }

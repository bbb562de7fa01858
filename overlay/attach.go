package overlay

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

// AttachConfig describes a container to put on a network.
type AttachConfig struct {
	Network string     // required: a network made with CreateNetwork
	Name    string     // required: the endpoint's name, e.g. the container's
	NS      *netnsx.NS // required: the container's namespace; its end of the veth is eth0
	IP      netip.Addr // this address; zero: the lowest free one
}

// Attach gives the container an address on the network and plugs it in: a veth whose
// end in the container is eth0, with the address and a MAC derived from it, and whose
// host end sits on the network's bridge on this host. The endpoint is registered under
// the host's lease before the veth is made, and removed again if that fails. The first
// host address of the subnet is left for a gateway; an address another endpoint has is
// ErrExists.
func (a *Agent) Attach(ctx context.Context, c AttachConfig) (Endpoint, error) {
	fail := func(err error) (Endpoint, error) {
		return Endpoint{}, fmt.Errorf("overlay: attach %s to %s: %w", c.Name, c.Network, err)
	}
	if err := checkName("endpoint", c.Name); err != nil {
		return fail(err)
	}
	if c.NS == nil {
		return fail(fmt.Errorf("nil container namespace: %w", netnsx.ErrInvalid))
	}
	a.attachMu.Lock()
	defer a.attachMu.Unlock()
	if a.closed() {
		return fail(errClosed)
	}
	n, err := a.network(ctx, c.Network)
	if err != nil {
		return fail(err)
	}
	if c.IP.IsValid() {
		if err := n.assignable(c.IP); err != nil {
			return fail(err)
		}
	}
	// The address first: a network without one left, or an address taken, changes
	// nothing on this host.
	ip, err := a.allocate(ctx, n, c.Name, c.IP)
	if err != nil {
		return fail(err)
	}
	key := a.keys.endpoint(n.Name, ip)
	ep := Endpoint{Network: n.Name, Host: a.cfg.Host, Name: c.Name, IP: ip, MAC: macOf(ip)}
	br, err := a.device(n)
	if err == nil {
		_, err = veth.Create(veth.Config{
			A:   veth.End{NS: a.cfg.NS, Name: hostEnd(ip), Master: br.Link},
			B:   veth.End{NS: c.NS, Name: "eth0", HardwareAddr: ep.MAC, Addrs: []netip.Prefix{netip.PrefixFrom(ip, n.Subnet.Bits())}},
			MTU: MTU,
		})
		if errors.Is(err, netnsx.ErrExists) {
			err = fmt.Errorf("%w (the container's eth0 or the host's %s exists already: attached before?)", err, hostEnd(ip))
		}
	}
	if err != nil {
		return fail(errors.Join(err, a.release(context.WithoutCancel(ctx), key)))
	}
	return ep, nil
}

var errClosed = fmt.Errorf("the agent is closed: %w", errors.Join(netnsx.ErrInvalid, netnsx.ErrClosed))

// Detach undoes Attach: it deletes the endpoint's key, so that the other hosts drop it,
// and the veth, which takes the container's eth0 with it. An endpoint this agent did
// not attach is ErrNotFound.
func (a *Agent) Detach(ctx context.Context, ep Endpoint) error {
	if !ep.IP.Is4() {
		return fmt.Errorf("overlay: detach %s: address %s is not IPv4: %w", ep.Name, ep.IP, netnsx.ErrInvalid)
	}
	if err := checkName("network", ep.Network); err != nil {
		return fmt.Errorf("overlay: detach %s: %w", ep.IP, err)
	}
	a.attachMu.Lock()
	defer a.attachMu.Unlock()
	if a.closed() {
		return fmt.Errorf("overlay: detach %s from %s: %w", ep.IP, ep.Network, errClosed)
	}
	key := a.keys.endpoint(ep.Network, ep.IP)
	a.mu.Lock()
	_, ok := a.mine[key]
	a.mu.Unlock()
	if !ok {
		return fmt.Errorf("overlay: detach %s from %s: not attached by host %s: %w", ep.IP, ep.Network, a.cfg.Host, netnsx.ErrNotFound)
	}
	if err := a.release(ctx, key); err != nil {
		return fmt.Errorf("overlay: detach %s from %s: %w", ep.IP, ep.Network, err)
	}
	l, err := a.cfg.NS.Link(hostEnd(ep.IP))
	if err == nil {
		err = l.Delete()
	}
	if err != nil && !errors.Is(err, netnsx.ErrNotFound) {
		return fmt.Errorf("overlay: detach %s from %s: %w", ep.IP, ep.Network, err)
	}
	return nil
}

// release forgets one of this host's endpoints and deletes its key if it is still
// this host's (a key re-created by another host after a lease loss is not).
func (a *Agent) release(ctx context.Context, key string) error {
	a.mu.Lock()
	v := a.mine[key]
	delete(a.mine, key)
	a.mu.Unlock()
	_, err := a.cfg.Client.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(key), "=", v)).
		Then(clientv3.OpDelete(key)).
		Commit()
	return err
}

// hostEnd names an endpoint's veth on the host after its address, which is unique on
// the network and fits in IFNAMSIZ.
func hostEnd(ip netip.Addr) string {
	b := ip.As4()
	return fmt.Sprintf("v%02x%02x%02x%02x", b[0], b[1], b[2], b[3])
}

// network reads one network's record.
func (a *Agent) network(ctx context.Context, name string) (Network, error) {
	if err := checkName("network", name); err != nil {
		return Network{}, err
	}
	key := a.keys.network(name)
	r, err := a.cfg.Client.Get(ctx, key)
	if err != nil {
		return Network{}, err
	}
	if len(r.Kvs) == 0 {
		return Network{}, fmt.Errorf("no network %s: %w", name, netnsx.ErrNotFound)
	}
	s := newState()
	if err := s.put(a.keys, key, r.Kvs[0].Value); err != nil {
		return Network{}, fmt.Errorf("network %s: %w", name, err)
	}
	return s.networks[key], nil
}

// device returns the network's bridge on this host, making it and its VXLAN device
// the first time, and reconciles the new device at once. Devices of those names that
// exist already are taken over only if they are what this agent would have made (a
// previous run's): a bridge whose ports are all the overlay's, a VXLAN device with the
// network's VNI and port on that bridge. Anything else is someone else's: ErrExists.
func (a *Agent) device(n Network) (*bridge.Bridge, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	brName, vxName := fmt.Sprintf("br%d", n.VNI), fmt.Sprintf("vx%d", n.VNI)
	if l, ok := a.local[n.Name]; ok && l.vni == n.VNI {
		return bridge.Open(a.cfg.NS, brName)
	}
	if err := a.checkOwn(brName, vxName, n.VNI); err != nil {
		return nil, err
	}
	br, err := bridge.Open(a.cfg.NS, brName)
	if errors.Is(err, netnsx.ErrNotFound) {
		br, err = bridge.Create(a.cfg.NS, bridge.Config{Name: brName, MTU: MTU})
	}
	if err != nil {
		return nil, err
	}
	dev, err := vxlan.Open(a.cfg.NS, vxName)
	if errors.Is(err, netnsx.ErrNotFound) {
		dev, err = vxlan.Create(a.cfg.NS, vxlan.Config{
			Name: vxName, VNI: n.VNI, Port: vxlan.IANAPort, Underlay: a.cfg.Underlay, Local: a.cfg.VTEP,
			DisableLearning: true, Proxy: true, MTU: MTU, Master: br.Link,
		})
	}
	if err != nil {
		return nil, err
	}
	a.local[n.Name] = localNet{vni: n.VNI, dev: dev}
	a.reconcileLocked()
	return br, nil
}

// checkOwn refuses a bridge or VXLAN device of the overlay's names that the overlay
// did not make.
func (a *Agent) checkOwn(brName, vxName string, vni uint32) error {
	snap, err := netnsx.Inspect(a.cfg.NS)
	if err != nil {
		return err
	}
	for _, l := range snap.Namespaces[0].Links {
		switch {
		case l.Name == vxName && (l.VXLAN == nil || l.VXLAN.VNI != vni || l.VXLAN.Port != vxlan.IANAPort || l.Master != brName):
			return fmt.Errorf("%s exists and is not this overlay's (a VXLAN device of VNI %d, port %d, on %s): %w",
				vxName, vni, vxlan.IANAPort, brName, netnsx.ErrExists)
		case l.Master == brName && l.Name != vxName && !isHostEnd(l.Name):
			return fmt.Errorf("bridge %s exists with port %s, which is not this overlay's: %w", brName, l.Name, netnsx.ErrExists)
		case l.Name == brName && l.Kind != "bridge":
			return fmt.Errorf("%s exists and is a %q link, not this overlay's bridge: %w", brName, l.Kind, netnsx.ErrExists)
		}
	}
	return nil
}

// isHostEnd reports whether name is one hostEnd makes.
func isHostEnd(name string) bool {
	rest, ok := strings.CutPrefix(name, "v")
	if !ok || len(rest) != 8 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// allocate claims an address with a transaction that creates the endpoint's key only
// if it does not exist: want, or else the lowest free one. The read before it only
// suggests where to start; a concurrent attach that took the same address makes the
// transaction fail, and the next address is tried.
func (a *Agent) allocate(ctx context.Context, n Network, name string, want netip.Addr) (netip.Addr, error) {
	lease := clientv3.LeaseID(a.lease.Load())
	claim := func(ip netip.Addr) (bool, error) {
		key := a.keys.endpoint(n.Name, ip)
		v, _ := json.Marshal(endpointValue{Host: a.cfg.Host, Name: name, MAC: macOf(ip).String()})
		ok, err := createIfAbsent(ctx, a.cfg.Client, key, string(v), lease)
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			err = fmt.Errorf("host %s's lease is gone and the agent is registering again; retry: %w", a.cfg.Host, err)
		}
		if ok {
			a.mu.Lock()
			a.mine[key] = string(v)
			a.mu.Unlock()
		}
		return ok, err
	}
	if want.IsValid() {
		ok, err := claim(want)
		if err == nil && !ok {
			err = fmt.Errorf("address %s is another endpoint's: %w", want, netnsx.ErrExists)
		}
		return want, err
	}
	r, err := a.cfg.Client.Get(ctx, a.keys.endpoints(n.Name), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return netip.Addr{}, err
	}
	used := map[string]bool{}
	for _, kv := range r.Kvs {
		used[string(kv.Key)] = true
	}
	for ip := n.first(); n.Subnet.Contains(ip.Next()); ip = ip.Next() {
		if used[a.keys.endpoint(n.Name, ip)] {
			continue
		}
		ok, err := claim(ip)
		if err != nil {
			return netip.Addr{}, err
		}
		if ok {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w %s", ErrFull, n.Subnet)
}

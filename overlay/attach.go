package overlay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

// Attach gives the container an address on network and plugs it in: a veth whose end
// in the container is eth0, with the address and a MAC derived from it, and whose host
// end sits on the network's bridge on this host. The endpoint is registered under the
// host's lease before the veth is made, and removed again if that fails. The first
// host address of the subnet is left for a gateway.
func (a *Agent) Attach(ctx context.Context, network, name string, container *netnsx.NS) (Endpoint, error) {
	fail := func(err error) (Endpoint, error) {
		return Endpoint{}, fmt.Errorf("overlay: attach %s to %s: %w", name, network, err)
	}
	if err := checkName("endpoint", name); err != nil {
		return fail(err)
	}
	if container == nil {
		return fail(fmt.Errorf("nil container namespace: %w", netnsx.ErrInvalid))
	}
	n, err := a.network(ctx, network)
	if err != nil {
		return fail(err)
	}
	br, err := a.device(n)
	if err != nil {
		return fail(err)
	}
	ip, err := a.allocate(ctx, n, name)
	if err != nil {
		return fail(err)
	}
	ep := Endpoint{Network: n.Name, Host: a.cfg.Host, Name: name, IP: ip, MAC: macOf(ip)}
	b := ip.As4()
	_, err = veth.Create(veth.Config{
		A:   veth.End{NS: a.cfg.NS, Name: fmt.Sprintf("v%02x%02x%02x%02x", b[0], b[1], b[2], b[3]), Master: br.Link},
		B:   veth.End{NS: container, Name: "eth0", HardwareAddr: ep.MAC, Addrs: []netip.Prefix{netip.PrefixFrom(ip, n.Subnet.Bits())}},
		MTU: MTU,
	})
	if err != nil {
		key := a.keys.endpoint(n.Name, ip)
		a.mu.Lock()
		delete(a.mine, key)
		a.mu.Unlock()
		if _, derr := a.cfg.Client.Delete(context.WithoutCancel(ctx), key); derr != nil {
			err = errors.Join(err, derr)
		}
		return fail(err)
	}
	return ep, nil
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
// the first time, and reconciles the new device at once.
func (a *Agent) device(n Network) (*bridge.Bridge, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	brName, vxName := fmt.Sprintf("br%d", n.VNI), fmt.Sprintf("vx%d", n.VNI)
	if _, ok := a.local[n.Name]; ok {
		return bridge.Open(a.cfg.NS, brName)
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
	a.local[n.Name] = dev
	a.reconcileLocked()
	return br, nil
}

// allocate claims a free address with a transaction that creates the endpoint's key
// only if it does not exist. The read before it only suggests where to start; a
// concurrent attach that took the same address makes the transaction fail, and the
// next address is tried.
func (a *Agent) allocate(ctx context.Context, n Network, name string) (netip.Addr, error) {
	r, err := a.cfg.Client.Get(ctx, a.keys.endpoints(n.Name), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return netip.Addr{}, err
	}
	used := map[string]bool{}
	for _, kv := range r.Kvs {
		used[string(kv.Key)] = true
	}
	for ip := n.Subnet.Addr().Next().Next(); n.Subnet.Contains(ip.Next()); ip = ip.Next() {
		key := a.keys.endpoint(n.Name, ip)
		if used[key] {
			continue
		}
		v, _ := json.Marshal(endpointValue{Host: a.cfg.Host, Name: name, MAC: macOf(ip).String()})
		ok, err := createIfAbsent(ctx, a.cfg.Client, key, string(v), clientv3.LeaseID(a.lease.Load()))
		if err != nil {
			return netip.Addr{}, err
		}
		if ok {
			a.mu.Lock()
			a.mine[key] = string(v)
			a.mu.Unlock()
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w %s", ErrFull, n.Subnet)
}

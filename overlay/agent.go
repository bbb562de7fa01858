package overlay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/vxlan"
)

// MTU is the overlay's MTU: a 1500-byte underlay less 50 bytes of VXLAN over IPv4.
const MTU = 1450

// ErrFull is returned by Attach when a network has no free address left.
var ErrFull = errors.New("overlay: no free address in the network")

// Config describes one host's agent.
type Config struct {
	Client   *clientv3.Client // required
	Prefix   string           // where the keys live; "": DefaultPrefix
	Host     string           // required: this host's name
	VTEP     netip.Addr       // required: this host's IPv4 address on the underlay
	NS       *netnsx.NS       // required: the host's network namespace
	Underlay string           // the device VXLAN packets leave by; "": any, by route
	TTL      time.Duration    // the lease's time to live; 0: 10 s; rounded up to seconds
	Log      *slog.Logger     // nil: slog.Default()
}

// Agent is one host's control plane.
type Agent struct {
	cfg    Config
	keys   keys
	lease  clientv3.LeaseID
	cancel context.CancelFunc
	done   chan struct{}
	log    *slog.Logger

	mu     sync.Mutex // guards state and local, and serialises reconciles
	state  *state
	local  map[string]*vxlan.Device // network name → this host's device
	synced chan struct{}            // closed after the first full read
}

// Start registers the host under a new lease, keeps the lease alive and starts
// watching. The host's key and its endpoints live as long as the lease: Close revokes
// it; a host that dies lets it expire.
func Start(ctx context.Context, cfg Config) (*Agent, error) {
	if cfg.Client == nil || cfg.NS == nil {
		return nil, fmt.Errorf("overlay: start: Client and NS are required: %w", netnsx.ErrInvalid)
	}
	if err := checkName("host", cfg.Host); err != nil {
		return nil, fmt.Errorf("overlay: start: %w", err)
	}
	if !cfg.VTEP.IsValid() || !cfg.VTEP.Is4() || cfg.VTEP.IsUnspecified() || cfg.VTEP.IsMulticast() {
		return nil, fmt.Errorf("overlay: start %s: VTEP %s is not a unicast IPv4 address: %w", cfg.Host, cfg.VTEP, netnsx.ErrInvalid)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	a := &Agent{cfg: cfg, keys: keys(cfg.Prefix), done: make(chan struct{}), state: newState(),
		local: map[string]*vxlan.Device{}, synced: make(chan struct{}),
		log: cfg.Log.With("host", cfg.Host)}
	ttl := int64((cfg.TTL + time.Second - 1) / time.Second)
	l, err := cfg.Client.Grant(ctx, ttl)
	if err != nil {
		return nil, fmt.Errorf("overlay: start %s: grant lease: %w", cfg.Host, err)
	}
	a.lease = l.ID
	v, _ := json.Marshal(hostValue{VTEP: cfg.VTEP})
	// The host's key is ours only if no live host has the name.
	r, err := cfg.Client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(a.keys.host(cfg.Host)), "=", 0)).
		Then(clientv3.OpPut(a.keys.host(cfg.Host), string(v), clientv3.WithLease(a.lease))).
		Commit()
	if err == nil && !r.Succeeded {
		err = fmt.Errorf("host %s is registered already: %w", cfg.Host, netnsx.ErrExists)
	}
	if err != nil {
		_, _ = cfg.Client.Revoke(context.WithoutCancel(ctx), a.lease)
		return nil, fmt.Errorf("overlay: start %s: %w", cfg.Host, err)
	}
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	alive, err := cfg.Client.KeepAlive(run, a.lease)
	if err != nil {
		cancel()
		_, _ = cfg.Client.Revoke(context.WithoutCancel(ctx), a.lease)
		return nil, fmt.Errorf("overlay: start %s: keep lease alive: %w", cfg.Host, err)
	}
	go func() {
		for range alive { // drain the responses, or the client logs that nobody reads them
		}
		if run.Err() == nil {
			a.log.Error("overlay: lease lost; this host's keys are gone from etcd")
		}
	}()
	go a.watch(run)
	return a, nil
}

// Synced returns a channel closed once the agent has read the whole prefix the first
// time and reconciled from it.
func (a *Agent) Synced() <-chan struct{} { return a.synced }

// Close stops the agent and revokes its lease, which deletes the host's key and every
// endpoint it attached; the other hosts remove them from their devices. The devices
// and containers on this host stay. Idempotent.
func (a *Agent) Close(ctx context.Context) error {
	if !a.stop() {
		return nil
	}
	if _, err := a.cfg.Client.Revoke(ctx, a.lease); err != nil {
		return fmt.Errorf("overlay: close %s: revoke lease: %w", a.cfg.Host, err)
	}
	return nil
}

// stop ends the keepalive and the watch, and reports whether it was the first call.
// Without a revoke that is a crash, as the other hosts see it: the lease expires.
func (a *Agent) stop() bool {
	select {
	case <-a.done:
		return false
	default:
	}
	a.cancel()
	<-a.done
	return true
}

// CreateNetwork records a network, once: creating one that exists with the same VNI and
// subnet is not an error; with others it is ErrExists.
func CreateNetwork(ctx context.Context, c *clientv3.Client, prefix string, n Network) error {
	if err := n.validate(); err != nil {
		return fmt.Errorf("overlay: create network: %w", err)
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	key := keys(prefix).network(n.Name)
	v, _ := json.Marshal(networkValue{VNI: n.VNI, Subnet: n.Subnet})
	r, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(v))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("overlay: create network %s: %w", n.Name, err)
	}
	if !r.Succeeded {
		kvs := r.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 || string(kvs[0].Value) != string(v) {
			return fmt.Errorf("overlay: create network %s: exists with another VNI or subnet: %w", n.Name, netnsx.ErrExists)
		}
	}
	return nil
}

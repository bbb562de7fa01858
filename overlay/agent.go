package overlay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
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
	lease  atomic.Int64 // the current clientv3.LeaseID
	cancel context.CancelFunc
	done   chan struct{} // closed when the watch has ended
	kept   chan struct{} // closed when the keepalive has ended
	log    *slog.Logger

	mu     sync.Mutex // guards state and local, and serialises reconciles
	state  *state
	local  map[string]localNet // network name → this host's device for it
	mine   map[string]string   // this host's endpoints' keys and values, to register again
	failed bool                // the last reconcile failed for some network
	synced chan struct{}       // closed after the first full read

	attachMu sync.Mutex // serialises Attach and Detach: one must not undo the other half-way
	closeMu  sync.Mutex
	revoked  bool // Close revoked the lease
}

// localNet is a network's device on this host, made for the VNI it had then.
type localNet struct {
	vni uint32
	dev *vxlan.Device
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
	if !unicast(cfg.VTEP) {
		return nil, fmt.Errorf("overlay: start %s: VTEP %s is not a unicast IPv4 address: %w", cfg.Host, cfg.VTEP, netnsx.ErrInvalid)
	}
	if _, err := cfg.NS.Link("lo"); err != nil { // a closed or deleted handle says so here
		return nil, fmt.Errorf("overlay: start %s: %w", cfg.Host, err)
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
		local: map[string]localNet{}, mine: map[string]string{}, synced: make(chan struct{}),
		log: cfg.Log.With("host", cfg.Host)}
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	alive, err := a.register(ctx, run)
	if err != nil {
		cancel()
		close(a.done)
		return nil, fmt.Errorf("overlay: start %s: %w", cfg.Host, unreachable(cfg.Client, err))
	}
	a.kept = make(chan struct{})
	go func() {
		defer close(a.kept)
		a.keepAlive(run, alive)
	}()
	go a.watch(run)
	return a, nil
}

// register grants a lease, puts the host's key and the endpoints attached so far under
// it, and keeps it alive until run ends. A name or an address that another holds now
// is not taken from it.
func (a *Agent) register(ctx, run context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	c := a.cfg.Client
	l, err := c.Grant(ctx, int64((a.cfg.TTL+time.Second-1)/time.Second))
	if err != nil {
		return nil, fmt.Errorf("grant lease: %w", err)
	}
	fail := func(err error) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
		_, _ = c.Revoke(context.WithoutCancel(ctx), l.ID)
		return nil, err
	}
	v, _ := json.Marshal(hostValue{VTEP: a.cfg.VTEP})
	r, err := createIfAbsent(ctx, c, a.keys.host(a.cfg.Host), string(v), l.ID)
	if err == nil && !r {
		err = fmt.Errorf("host %s is registered already (by an agent that runs, or one that died less than its lease's TTL ago): %w", a.cfg.Host, netnsx.ErrExists)
	}
	if err != nil {
		return fail(err)
	}
	a.mu.Lock()
	mine := maps.Clone(a.mine)
	a.mu.Unlock()
	for key, v := range mine {
		ok, err := createIfAbsent(ctx, c, key, v, l.ID)
		if err != nil {
			return fail(err)
		}
		if !ok {
			a.log.Error("overlay: an endpoint's address was taken while this host's lease was gone", "key", key)
		}
	}
	alive, err := c.KeepAlive(run, l.ID)
	if err != nil {
		return fail(fmt.Errorf("keep lease alive: %w", err))
	}
	a.lease.Store(int64(l.ID))
	return alive, nil
}

// keepAlive drains the keepalive responses. When they stop while the agent runs, etcd
// did not answer for a whole TTL (a partition, a cluster restarted): if the lease is
// still there it keeps it alive again; if it is gone (expired meanwhile, revoked by
// hand), so is every key of this host, and it registers again.
func (a *Agent) keepAlive(run context.Context, alive <-chan *clientv3.LeaseKeepAliveResponse) {
	c := a.cfg.Client
	for {
		for range alive {
		}
		if run.Err() != nil {
			return
		}
		a.log.Warn("overlay: lease keepalive stopped; checking the lease")
		for run.Err() == nil {
			ctx, cancel := context.WithTimeout(run, 5*time.Second)
			id := clientv3.LeaseID(a.lease.Load())
			ttl, err := c.TimeToLive(ctx, id)
			switch {
			case err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound):
			case err == nil && ttl.TTL > 0:
				alive, err = c.KeepAlive(run, id)
			default:
				a.log.Error("overlay: lease lost; registering again")
				alive, err = a.register(ctx, run)
			}
			cancel()
			if err == nil {
				break
			}
			a.log.Warn("overlay: keeping the lease failed; retrying", "err", err)
			sleep(run, 500*time.Millisecond)
		}
	}
}

// createIfAbsent puts key under lease unless it exists, and reports whether it did.
func createIfAbsent(ctx context.Context, c *clientv3.Client, key, value string, lease clientv3.LeaseID) (bool, error) {
	r, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, value, clientv3.WithLease(lease))).
		Commit()
	if err != nil {
		return false, err
	}
	return r.Succeeded, nil
}

// Synced returns a channel closed once the agent has read the whole prefix the first
// time and reconciled from it.
func (a *Agent) Synced() <-chan struct{} { return a.synced }

// Close stops the agent and revokes its lease, which deletes the host's key and every
// endpoint it attached; the other hosts remove them from their devices. The devices
// and containers on this host stay. Calling it again after an error tries the revoke
// again; after a success it does nothing.
func (a *Agent) Close(ctx context.Context) error {
	a.stop()
	a.closeMu.Lock()
	defer a.closeMu.Unlock()
	if a.revoked {
		return nil
	}
	_, err := a.cfg.Client.Revoke(ctx, clientv3.LeaseID(a.lease.Load()))
	if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) { // gone: so are the keys
		return fmt.Errorf("overlay: close %s: revoke lease: %w", a.cfg.Host, unreachable(a.cfg.Client, err))
	}
	a.revoked = true
	return nil
}

// closed reports whether Close (or a crash simulated with stop) has stopped the agent.
func (a *Agent) closed() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// stop ends the keepalive and the watch, and reports whether it was the first call.
// Without a revoke that is a crash, as the other hosts see it: the lease expires.
func (a *Agent) stop() bool {
	if a.closed() {
		return false
	}
	a.cancel()
	<-a.done
	<-a.kept
	return true
}

// CreateNetwork records a network, once: creating one that exists with the same VNI and
// subnet is not an error; with others, or with a VNI another network has, it is
// ErrExists. The network's key and its VNI's key are created in one transaction.
func CreateNetwork(ctx context.Context, c *clientv3.Client, prefix string, n Network) error {
	if err := n.validate(); err != nil {
		return fmt.Errorf("overlay: create network: %w", err)
	}
	if c == nil {
		return fmt.Errorf("overlay: create network %s: nil client: %w", n.Name, netnsx.ErrInvalid)
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	k := keys(prefix)
	key, vkey := k.network(n.Name), k.vni(n.VNI)
	v, _ := json.Marshal(networkValue{VNI: n.VNI, Subnet: n.Subnet})
	r, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0), clientv3.Compare(clientv3.CreateRevision(vkey), "=", 0)).
		Then(clientv3.OpPut(key, string(v)), clientv3.OpPut(vkey, n.Name)).
		Else(clientv3.OpGet(key), clientv3.OpGet(vkey)).
		Commit()
	if err != nil {
		return fmt.Errorf("overlay: create network %s: %w", n.Name, unreachable(c, err))
	}
	if r.Succeeded {
		return nil
	}
	nets, vnis := r.Responses[0].GetResponseRange().Kvs, r.Responses[1].GetResponseRange().Kvs
	switch {
	case len(vnis) == 1 && string(vnis[0].Value) != n.Name:
		return fmt.Errorf("overlay: create network %s: VNI %d is network %s's: %w", n.Name, n.VNI, vnis[0].Value, netnsx.ErrExists)
	case len(nets) == 1 && string(nets[0].Value) == string(v) && len(vnis) == 1:
		return nil
	default:
		return fmt.Errorf("overlay: create network %s: exists with another VNI or subnet: %w", n.Name, netnsx.ErrExists)
	}
}

// unreachable says which etcd did not answer when err is the caller's deadline: a
// bare "context deadline exceeded" does not tell a user that the endpoints are wrong.
func unreachable(c *clientv3.Client, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcd at %s did not answer: %w", strings.Join(c.Endpoints(), ","), err)
	}
	return err
}

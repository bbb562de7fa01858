package overlay

import (
	"context"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// retryInterval is how often a failed reconcile is tried again.
const retryInterval = time.Second

// testHookBeforeWatch, when set by a test before Start, runs between a full read at
// revision rev and the watch from rev+1.
var testHookBeforeWatch func(rev int64)

// watch reads everything, reconciles, and follows the changes from the next revision;
// when the watch fails it starts over with a full read.
func (a *Agent) watch(ctx context.Context) {
	defer close(a.done)
	first := true
	for ctx.Err() == nil {
		rev, err := a.resync(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("overlay: full read failed; retrying", "err", err)
				sleep(ctx, 200*time.Millisecond)
			}
			continue
		}
		if first {
			close(a.synced)
			first = false
		}
		if h := testHookBeforeWatch; h != nil {
			h(rev)
		}
		a.follow(ctx, rev)
	}
}

// resync replaces the agent's copy with a full read and reconciles from it.
func (a *Agent) resync(ctx context.Context) (int64, error) {
	r, err := a.cfg.Client.Get(ctx, a.cfg.Prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	s := newState()
	for _, kv := range r.Kvs {
		a.put(s, string(kv.Key), kv.Value)
	}
	a.mu.Lock()
	a.state = s
	a.reconcileLocked()
	a.mu.Unlock()
	return r.Header.Revision, nil
}

// follow applies the watch's events from rev+1 until the watch ends.
func (a *Agent) follow(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := a.cfg.Client.Watch(wctx, a.cfg.Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	retry := time.NewTicker(retryInterval)
	defer retry.Stop()
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case resp, ok = <-wch:
		case <-retry.C:
			a.mu.Lock()
			if a.failed {
				a.reconcileLocked()
			}
			a.mu.Unlock()
			continue
		}
		if !ok {
			break
		}
		if resp.CompactRevision != 0 {
			a.log.Warn("overlay: watch compacted; reading everything again", "compacted", resp.CompactRevision, "from", rev+1)
			return
		}
		if err := resp.Err(); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("overlay: watch failed; reading everything again", "err", err)
			}
			return
		}
		a.mu.Lock()
		for _, ev := range resp.Events {
			key := string(ev.Kv.Key)
			if ev.Type == mvccpb.DELETE {
				a.state.del(key)
			} else {
				a.put(a.state, key, ev.Kv.Value)
			}
		}
		a.reconcileLocked()
		a.mu.Unlock()
	}
	if ctx.Err() == nil {
		a.log.Warn("overlay: watch closed; reading everything again")
	}
}

// put records one key, logging one that does not parse.
func (a *Agent) put(s *state, key string, value []byte) {
	if err := s.put(a.keys, key, value); err != nil {
		a.log.Warn("overlay: skipping a key that does not parse", "key", key, "err", err)
	}
}

// reconcileLocked makes every local network's device match the state.
// A network that failed is tried again every retryInterval, without waiting for the
// next event.
func (a *Agent) reconcileLocked() {
	a.failed = false
	self := Host{Name: a.cfg.Host, VTEP: a.cfg.VTEP}
	for network, l := range a.local {
		ch, err := l.dev.SetPeers(a.state.peers(a.keys, self, network))
		if err != nil {
			a.log.Error("overlay: reconcile failed; trying again", "network", network, "err", err)
			a.failed = true
			continue
		}
		if ch.Total() > 0 {
			a.log.Debug("overlay: reconciled", "network", network, "added", ch.Added, "replaced", ch.Replaced, "removed", ch.Removed)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

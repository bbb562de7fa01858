package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx"
)

func runUp(ctx context.Context, args []string) (int, error) {
	var showProgress *bool
	lf, path, s, err := fileCommand("up", "[-prefix P] [-progress] FILE", args, func(fs *flag.FlagSet) {
		showProgress = fs.Bool("progress", false, "show progress on stderr even when it is not a terminal (one line per step)")
	})
	if err != nil {
		return 0, err
	}
	// Said now, before anything is made; Build refuses too, for a name taken meanwhile.
	taken, err := present(s)
	if err != nil {
		return 0, err
	}
	if len(taken) > 0 {
		return 0, errTaken(lf, path, taken)
	}

	ctx, stop := interruptible(ctx, "removing what was made")
	defer stop()
	opt := lf.options()
	opt.Persist = true
	p := &progress{w: os.Stderr, on: *showProgress || isTerminal(os.Stderr), tty: isTerminal(os.Stderr)}
	opt.Progress = func(e lab.Event) {
		p.event(e)
		if progressHook != nil {
			progressHook(e)
		}
	}
	start := time.Now()
	l, err := lab.Build(ctx, s, opt)
	p.end()
	if ctx.Err() != nil {
		// Build removes what it made when ctx ends; a lab it finished just as the signal
		// came goes too, as asked. Destroy removes only what the state file records.
		if err == nil {
			l.Close()
		}
		if derr := lab.Destroy(s, lf.options()); derr != nil {
			return 0, fmt.Errorf("%w, and removing what was made failed: %v (try %s)", errInterrupted, derr, lf.again("down", path))
		}
		return 0, fmt.Errorf("%w: nothing of lab %s is left", errInterrupted, s.Name)
	}
	if errors.Is(err, netnsx.ErrExists) {
		return 0, fmt.Errorf("%w\n%s", err, takenHint(lf, path))
	}
	if err != nil {
		return 0, fmt.Errorf("%w\nnothing of lab %s was left behind", err, s.Name)
	}
	defer l.Close() // releases handles: Persist leaves the lab up
	ns := s.Namespaces()
	fmt.Printf("lab %s up in %v: %d namespaces: %s\n", s.Name, time.Since(start).Round(time.Millisecond), len(ns), list(ns))
	fmt.Printf("remove it with: %s\n", lf.again("down", path))
	return exitOK, nil
}

// progressHook, when set (by the tests only), sees every progress event after the line
// is drawn: the tests stop up at a step they choose, to interrupt or kill it there.
var progressHook func(lab.Event)

func errTaken(lf *labFlags, path string, taken []string) error {
	return fmt.Errorf("namespace names taken: %s: %w\n%s", list(taken), netnsx.ErrExists, takenHint(lf, path))
}

func takenHint(lf *labFlags, path string) string {
	return "nothing was changed. If an earlier \"" + lf.again("up", path) + "\" made them, remove them with \"" +
		lf.again("down", path) + "\"; otherwise give the lab another prefix (-prefix, or prefix: in the file)"
}

// progress shows Build's progress on one line redrawn in place on a terminal, and as a
// line per tenth of each phase elsewhere (-progress).
type progress struct {
	w       io.Writer
	on, tty bool

	mu     sync.Mutex
	last   time.Time
	phase  string
	decile int
	drawn  bool
}

func (p *progress) event(e lab.Event) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("up: %s %d/%d", e.Phase, e.Done, e.Total)
	if p.tty {
		if now := time.Now(); e.Done == e.Total || now.Sub(p.last) >= 100*time.Millisecond {
			p.last = now
			fmt.Fprintf(p.w, "\r\033[K%s", line)
			p.drawn = true
		}
		return
	}
	d := 10
	if e.Total > 0 {
		d = e.Done * 10 / e.Total
	}
	if e.Phase != p.phase || d != p.decile {
		p.phase, p.decile = e.Phase, d
		fmt.Fprintln(p.w, line)
	}
}

// end clears the progress line of a terminal.
func (p *progress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func runDown(_ context.Context, args []string) (int, error) {
	lf, path, s, err := fileCommand("down", "[-prefix P] FILE", args, nil)
	if err != nil {
		return 0, err
	}
	before, err := present(s)
	if err != nil {
		return 0, err
	}
	opt := lf.options()
	if err := lab.Destroy(s, opt); err != nil {
		return 0, err
	}
	if lf.prefix != "" {
		// The directory of the prefix's labs, once its last is down (error: not empty).
		_ = os.Remove(opt.StateDir)
	}
	after, err := present(s)
	if err != nil {
		return 0, err
	}
	removed := len(before) - len(after)
	switch {
	case removed > 0:
		fmt.Printf("lab %s down: %d namespaces removed\n", s.Name, removed)
	default:
		fmt.Printf("lab %s is not up: nothing to remove\n", s.Name)
	}
	if len(after) > 0 {
		fmt.Fprintf(os.Stderr, "nstopo down: left %s: not made by %q (remove one with: ip netns delete NAME)\n",
			list(after), lf.again("up", path))
	}
	return exitOK, nil
}

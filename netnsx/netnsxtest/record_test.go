package netnsxtest

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is the testing.TB a helper is given when the test checks how the helper
// fails: it records Errorf and Fatalf instead of failing the real test. Everything
// else (Cleanup, Helper, Skip, Name) is the real test's.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	msgs   []string
	failed bool
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.Errorf("%s", fmt.Sprint(args...))
	runtime.Goexit()
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *recorder) FailNow() {
	r.Errorf("FailNow")
	runtime.Goexit()
}

func (r *recorder) Fail() { r.Errorf("Fail") }

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "\n")
}

// record runs fn with a recorder on its own goroutine, so that a Fatalf ends fn only.
func record(t *testing.T, fn func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

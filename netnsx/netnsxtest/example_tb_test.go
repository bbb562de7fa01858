package netnsxtest_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// asTest runs body as a test runs: t stands for the test's *testing.T. A failure or a
// skip prints its message, so that the example's output check fails and shows why;
// cleanups run last first, after body returns or calls Fatal.
func asTest(body func(t testing.TB)) {
	t := &exampleT{}
	done := make(chan struct{})
	go func() { // Fatal ends this goroutine only, as it ends a test's
		defer close(done)
		defer t.cleanup()
		body(t)
	}()
	<-done
}

// exampleT is the part of testing.TB that the examples and the helpers they call use;
// the embedded nil interface makes any other method panic, loudly.
type exampleT struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

func (t *exampleT) Helper()      {}
func (t *exampleT) Name() string { return "Example" }
func (t *exampleT) Failed() bool { t.mu.Lock(); defer t.mu.Unlock(); return t.failed }

func (t *exampleT) Cleanup(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, fn)
}

func (t *exampleT) cleanup() {
	for {
		t.mu.Lock()
		n := len(t.cleanups)
		if n == 0 {
			t.mu.Unlock()
			return
		}
		fn := t.cleanups[n-1]
		t.cleanups = t.cleanups[:n-1]
		t.mu.Unlock()
		fn()
	}
}

func (t *exampleT) Log(args ...any)                 { fmt.Println(args...) }
func (t *exampleT) Logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func (t *exampleT) Errorf(format string, args ...any) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	fmt.Printf("FAIL: "+format+"\n", args...)
}

func (t *exampleT) Error(args ...any) { t.Errorf("%s", fmt.Sprint(args...)) }
func (t *exampleT) Fail()             { t.Errorf("failed") }
func (t *exampleT) FailNow()          { t.Fail(); runtime.Goexit() }

func (t *exampleT) Fatal(args ...any)                 { t.Error(args...); runtime.Goexit() }
func (t *exampleT) Fatalf(format string, args ...any) { t.Errorf(format, args...); runtime.Goexit() }

func (t *exampleT) Skip(args ...any) {
	fmt.Println(append([]any{"SKIP:"}, args...)...)
	runtime.Goexit()
}
func (t *exampleT) Skipf(format string, args ...any) {
	fmt.Printf("SKIP: "+format+"\n", args...)
	runtime.Goexit()
}
func (t *exampleT) SkipNow() { t.Skip() }

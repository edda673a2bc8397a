package service

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
)

// silentBus listens on a unix socket, accepts every connection and never says a word.
func silentBus(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bus")
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "unix:path=" + p
}

// connectWithin runs Connect and fails the test if it has not returned after limit.
func connectWithin(t *testing.T, ctx context.Context, addr string, limit time.Duration) (err error) {
	t.Helper()
	hostile.Within(t, "Connect to a bus that never answers", limit, func() {
		var c interface{ Close() }
		if c, err = Connect(ctx, addr); err == nil {
			c.Close()
		}
	})
	return err
}

// TestConnectToASilentBus: `install` hung forever on a bus that accepted and never answered
// (dbus.Connect and the manager check took no context).
func TestConnectToASilentBus(t *testing.T) {
	addr := silentBus(t)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err := connectWithin(t, ctx, addr, 10*time.Second)
	if !errors.Is(err, ErrNoManager) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want ErrNoManager and context.Canceled", err)
	}

	defer func(d time.Duration) { connectTimeout = d }(connectTimeout)
	connectTimeout = 200 * time.Millisecond
	err = connectWithin(t, context.Background(), addr, 10*time.Second)
	if !errors.Is(err, ErrNoManager) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("no answer: %v, want ErrNoManager and context.DeadlineExceeded", err)
	}
}

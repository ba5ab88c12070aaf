package tunnel

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// recordKey is a throwaway record-signing key: the tunnel does not use it,
// but every verdict binds one.
func recordKey(t *testing.T) ed25519.PublicKey {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// changes collects OnChange notifications.
type changes struct {
	ch chan PeerStatus
}

func newChanges() *changes { return &changes{ch: make(chan PeerStatus, 64)} }

func (c *changes) fn(s PeerStatus) { c.ch <- s }

// wait returns the next notification for peer in state, or fails.
func (c *changes) wait(t *testing.T, peer, state string, d time.Duration) PeerStatus {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case s := <-c.ch:
			if s.Name == peer && s.State == state {
				return s
			}
		case <-timeout:
			t.Fatalf("no %s notification for %s within %s", state, peer, d)
			return PeerStatus{}
		}
	}
}

// box is one test device with its fixture, ready to be admitted by others.
type box struct {
	name string
	dev  *Device
	addr netip.Addr
	cfg  PeerConfig // how peers enroll this box
	ch   *changes
}

// serveEcho echoes every connection accepted on ln until the test ends.
func serveEcho(t *testing.T, ln net.Listener) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
}

// echo sends msg on c and reads it back within d.
func echo(c net.Conn, msg []byte, d time.Duration) error {
	c.SetDeadline(time.Now().Add(d))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != string(msg) {
		return errors.New("echo mismatch")
	}
	return nil
}

// roundTrip dials addr through d and echoes one message; any failure
// (no handshake, no route, timeout) means traffic does not pass.
func roundTrip(d *Device, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return echo(c, []byte("wardgate through the tunnel"), timeout)
}

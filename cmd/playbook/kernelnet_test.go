package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newLinkPair is a kernel's link, playbook's end and the kernel's.
func newLinkPair(t *testing.T) (*kernelLink, *kernelDialer) {
	t.Helper()
	link, child, err := newKernelLink()
	require.NoError(t, err)
	t.Cleanup(func() { link.Close() })
	// The kernel's end as a bare descriptor, as the kernel inherits it
	// (the *os.File would close that number again when collected).
	fd, err := syscall.Dup(int(child.Fd()))
	require.NoError(t, err)
	require.NoError(t, child.Close())
	d, err := newKernelDialer(uintptr(fd))
	require.NoError(t, err)
	t.Cleanup(func() { d.ctl.Close() })
	return link, d
}

// TestKernelLinkHTTP: the kernel's HTTP transport reaches a server on
// playbook's end of the link, whatever address it dials, over connections
// handed to it.
func TestKernelLinkHTTP(t *testing.T) {
	link, d := newLinkPair(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello "+r.URL.Path)
	})}
	go func() { _ = srv.Serve(link) }()
	t.Cleanup(func() { srv.Close() })
	hc := &http.Client{Transport: kernelTransport(d)}
	for _, u := range []string{kernelProxyURL + "/a", "http://10.0.0.1:1/b"} {
		resp, err := hc.Get(u)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, "hello /"+u[len(u)-1:], string(b))
	}
}

// TestKernelLinkBounded: a kernel holds at most maxKernelConns connections
// at once; one more waits until one of them closes.
func TestKernelLinkBounded(t *testing.T) {
	link, d := newLinkPair(t)
	go func() {
		for {
			c, err := link.Accept()
			if err != nil {
				return
			}
			go func() { // playbook's end closes when the kernel's does
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	var held []net.Conn
	for range maxKernelConns {
		c, err := d.DialContext(t.Context(), "tcp", "x")
		require.NoError(t, err)
		held = append(held, c)
	}
	got := make(chan error, 1)
	go func() {
		c, err := d.DialContext(context.Background(), "tcp", "x")
		if err == nil {
			c.Close()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a connection past the limit was handed at once (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	held[0].Close()
	select {
	case err := <-got:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("no connection once one closed")
	}
	for _, c := range held[1:] {
		c.Close()
	}
}

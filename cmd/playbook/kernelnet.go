//go:build unix

package main

// The kernel's only network: connections playbook hands it. The kernel's
// sandbox creates no socket at all (sandbox.Policy.NoSockets: no TCP, UDP
// or unix socket, no socket pair; Landlock allows no TCP port), so that
// it can reach nothing, on any address, but playbook. It inherits one
// end of a unix socket pair (file descriptor 4), its link: for each
// connection it wants, the kernel writes one byte on it and receives the
// end of a fresh socket pair (SCM_RIGHTS), whose other end playbook
// serves with the registry proxy's HTTP server (regproxy.Proxy.Serve).
// Receiving a descriptor on an inherited socket creates none.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// kernelLinkFD is the kernel's end of its link to playbook.
const kernelLinkFD = 4

// maxKernelConns bounds the connections the kernel holds open at once
// (and so the descriptors playbook holds for it); a kernel that asks for
// more waits for one to close.
const maxKernelConns = 64

// socketPair returns the two ends of a new unix stream socket pair, not
// inherited by programs started.
func socketPair() (a, b *os.File, err error) {
	// Under ForkLock, as package syscall does: no program started
	// meanwhile inherits them.
	syscall.ForkLock.RLock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("a socket pair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "socketpair"), os.NewFile(uintptr(fds[1]), "socketpair"), nil
}

// fileConn wraps f as a net.Conn and closes f (net.FileConn holds a copy).
func fileConn(f *os.File) (net.Conn, error) {
	defer f.Close()
	return net.FileConn(f)
}

// kernelLink is playbook's end of a kernel's link: a net.Listener whose
// connections are those the kernel asked for.
type kernelLink struct {
	ctl   *net.UnixConn
	conns chan net.Conn
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

// newKernelLink makes a kernel's link: child is the kernel's end, to be
// passed as its file descriptor kernelLinkFD (and closed by the caller
// once the kernel started).
func newKernelLink() (l *kernelLink, child *os.File, err error) {
	mine, child, err := socketPair()
	if err != nil {
		return nil, nil, err
	}
	c, err := fileConn(mine)
	if err != nil {
		child.Close()
		return nil, nil, err
	}
	l = &kernelLink{ctl: c.(*net.UnixConn), conns: make(chan net.Conn), slots: make(chan struct{}, maxKernelConns), done: make(chan struct{})}
	go l.serve()
	return l, child, nil
}

// serve answers the kernel's requests, one byte each, until it closes
// its end or the link is closed. What the kernel sends besides bytes
// (descriptors of its own) is dropped unread: a plain read discards them.
func (l *kernelLink) serve() {
	defer l.Close()
	buf := make([]byte, 64)
	for {
		n, err := l.ctl.Read(buf)
		for range n {
			if !l.hand() {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// hand gives the kernel one end of a new socket pair and queues the other
// for Accept; false once the link is closed or cannot go on.
func (l *kernelLink) hand() bool {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return false
	}
	theirs, ours, err := socketPair()
	if err != nil {
		<-l.slots
		return false
	}
	_, _, err = l.ctl.WriteMsgUnix([]byte{1}, unix.UnixRights(int(theirs.Fd())), nil)
	theirs.Close()
	if err != nil {
		ours.Close()
		<-l.slots
		return false
	}
	c, err := fileConn(ours)
	if err != nil {
		<-l.slots
		return false
	}
	c = &slotConn{Conn: c, release: func() { <-l.slots }}
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		c.Close()
		return false
	}
}

// Accept returns the next connection the kernel asked for.
func (l *kernelLink) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the link: the kernel gets no new connection; those it has
// stay open until the proxy closes them.
func (l *kernelLink) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.ctl.Close()
	})
	return nil
}

// Addr is a name for the link.
func (l *kernelLink) Addr() net.Addr { return kernelAddr{} }

type kernelAddr struct{}

func (kernelAddr) Network() string { return "kernel" }
func (kernelAddr) String() string  { return "kernel link" }

// slotConn frees its slot when closed.
type slotConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// kernelDialer is the kernel's end: each Dial asks playbook for a
// connection to its proxy, whatever the address.
type kernelDialer struct {
	mu  sync.Mutex
	ctl *net.UnixConn
}

// newKernelDialer uses the link inherited as file descriptor fd.
func newKernelDialer(fd uintptr) (*kernelDialer, error) {
	f := os.NewFile(fd, "playbook-link")
	if f == nil {
		return nil, errors.New("no link to playbook")
	}
	c, err := fileConn(f)
	if err != nil {
		return nil, fmt.Errorf("the link to playbook: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("the link to playbook is not a unix socket")
	}
	return &kernelDialer{ctl: uc}, nil
}

// DialContext returns a new connection to playbook's proxy; network and
// address are ignored: there is nowhere else to go.
func (d *kernelDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// One request at a time, its answer read whole: the answers cannot
	// be mixed up.
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.ctl.Write([]byte{1}); err != nil {
		return nil, fmt.Errorf("asking playbook for a connection: %w", err)
	}
	var b [1]byte
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := d.ctl.ReadMsgUnix(b[:], oob)
	if err != nil {
		return nil, fmt.Errorf("a connection from playbook: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("a connection from playbook: no descriptor received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errors.New("a connection from playbook: no descriptor received")
	}
	return fileConn(os.NewFile(uintptr(fds[0]), "playbook-proxy"))
}

// kernelTransport is the kernel's HTTP transport: every connection is one
// playbook hands it.
func kernelTransport(d *kernelDialer) *http.Transport {
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
}

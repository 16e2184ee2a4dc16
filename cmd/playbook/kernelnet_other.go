//go:build !unix

package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
)

// Without unix socket pairs, a kernel gets no link to playbook: --kernel
// process is refused at its start.

const kernelLinkFD = 4

var errNoLink = errors.New("a kernel process needs unix socket pairs, which this system lacks")

type kernelLink struct{ net.Listener }

func newKernelLink() (*kernelLink, *os.File, error) { return nil, nil, errNoLink }

type kernelDialer struct{}

func newKernelDialer(uintptr) (*kernelDialer, error) { return nil, errNoLink }

func (*kernelDialer) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, errNoLink
}

func kernelTransport(d *kernelDialer) *http.Transport {
	return &http.Transport{DialContext: d.DialContext}
}

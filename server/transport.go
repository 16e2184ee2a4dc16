package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// Transport returns an http.RoundTripper that serves each request with the
// server's handler in this process, without a connection: the requests of
// a client in the process that started the server (playbook's registry
// proxy, which forwards every call of a kernel) skip the loopback TCP hop,
// its system calls and the goroutines on both of its ends.
//
// A reply the handler ends within replyBuffer bytes is handed back whole;
// a longer one (an artifact's download), or one the handler flushes, is
// streamed as the handler writes it. A handler that panics fails the
// request, as a dropped connection would. The request's context reaches
// the handler: a caller that gives up stops it.
func (s *Server) Transport() http.RoundTripper { return memTransport{h: s.handler} }

// replyBuffer is the size of a reply memTransport hands back whole.
const replyBuffer = 64 << 10

type memTransport struct{ h http.Handler }

func (t memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	if r.ContentLength > 0 || r.ContentLength == -1 {
		r.Header.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "127.0.0.1:0" // in process: the loopback's
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1

	ctx, cancel := context.WithCancel(req.Context())
	w := &memWriter{header: http.Header{}, ready: make(chan struct{}), cancel: cancel}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				w.fail(fmt.Errorf("server: the handler of %s %s panicked: %v", req.Method, req.URL.Path, v))
				return
			}
			w.end()
		}()
		t.h.ServeHTTP(w, r.WithContext(ctx))
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		// No one will read the reply: a handler still writing one fails
		// at its next write instead of waiting on the pipe for ever.
		cancel()
		w.abandon(req.Context().Err())
		return nil, req.Context().Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil && w.pipe == nil {
		cancel()
		return nil, w.err
	}
	resp := &http.Response{
		Status: fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)), StatusCode: w.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Request: req, ContentLength: -1,
	}
	if cl, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = cl
	}
	switch {
	case req.Method == http.MethodHead:
		resp.Body = http.NoBody
		if w.pipe != nil {
			w.pipe.CloseWithError(io.EOF)
		}
		cancel()
	case w.pipe == nil: // the handler ended: its reply whole
		if resp.ContentLength < 0 {
			resp.ContentLength = int64(w.buf.Len())
		}
		resp.Body = io.NopCloser(bytes.NewReader(w.buf.Bytes()))
		cancel()
	default: // still writing: what it wrote, then the rest as it comes
		resp.Body = &memBody{r: io.MultiReader(bytes.NewReader(w.buf.Bytes()), w.pipeR), close: func() {
			cancel()
			w.pipeR.Close()
		}}
	}
	return resp, nil
}

// memWriter is the handler's http.ResponseWriter: it buffers the reply
// until the handler ends, writes more than replyBuffer or flushes, then
// streams the rest through a pipe.
type memWriter struct {
	mu     sync.Mutex
	header http.Header
	sent   http.Header // the header as at WriteHeader
	status int
	buf    bytes.Buffer
	pipe   *io.PipeWriter
	pipeR  *io.PipeReader
	ready  chan struct{} // closed once the response can be handed back
	once   sync.Once
	err    error
	cancel context.CancelFunc
	gone   error // the caller gave up before the reply began (abandon)
}

// abandon is the caller's giving up before the reply began.
func (w *memWriter) abandon(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gone = err
	if w.pipeR != nil {
		w.pipeR.CloseWithError(err)
	}
}

func (w *memWriter) Header() http.Header { return w.header }

func (w *memWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeader(code)
}

func (w *memWriter) writeHeader(code int) {
	if w.status != 0 {
		return
	}
	if code < 100 || code > 999 {
		code = http.StatusInternalServerError
	}
	w.status, w.sent = code, w.header.Clone()
}

func (w *memWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.writeHeader(http.StatusOK)
	if w.pipe == nil {
		if w.buf.Len()+len(b) <= replyBuffer {
			w.buf.Write(b)
			w.mu.Unlock()
			return len(b), nil
		}
		w.stream()
	}
	p := w.pipe
	w.mu.Unlock()
	return p.Write(b) // blocks until the caller reads: the handler goes at its pace
}

// Flush hands the reply back now, the rest streamed.
func (w *memWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeader(http.StatusOK)
	if w.pipe == nil {
		w.stream()
	}
}

// stream switches to streaming (w.mu held): the response is handed back
// with what was buffered, the rest follows through the pipe.
func (w *memWriter) stream() {
	w.pipeR, w.pipe = io.Pipe()
	if w.gone != nil {
		w.pipeR.CloseWithError(w.gone)
	}
	w.once.Do(func() { close(w.ready) })
}

// end is the handler's return.
func (w *memWriter) end() {
	w.mu.Lock()
	w.writeHeader(http.StatusOK)
	p := w.pipe
	w.mu.Unlock()
	if p != nil {
		p.Close()
	}
	w.once.Do(func() { close(w.ready) })
}

// fail is the handler's panic: the request fails, or its body does when
// part of it was handed back.
func (w *memWriter) fail(err error) {
	w.mu.Lock()
	w.err = err
	p := w.pipe
	w.mu.Unlock()
	if p != nil {
		p.CloseWithError(err)
	}
	w.once.Do(func() { close(w.ready) })
}

type memBody struct {
	r     io.Reader
	close func()
	once  sync.Once
}

func (b *memBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *memBody) Close() error {
	b.once.Do(b.close)
	return nil
}

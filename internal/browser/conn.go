package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// conn is a DevTools protocol connection over Chromium's debugging pipe:
// JSON messages, each ended by a NUL byte.
type conn struct {
	w  io.WriteCloser
	r  io.ReadCloser
	wm sync.Mutex // serialises writes

	mu       sync.Mutex
	next     int
	pending  map[int]chan reply
	handlers map[string]func(method string, params map[string]any) // session → handler
	err      error                                                 // set when the pipe broke
	done     chan struct{}
}

type reply struct {
	Result json.RawMessage
	Err    error
}

type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func newConn(w io.WriteCloser, r io.ReadCloser) *conn {
	c := &conn{w: w, r: r, pending: map[int]chan reply{}, handlers: map[string]func(string, map[string]any){}, done: make(chan struct{})}
	go c.read()
	return c
}

// errClosed is the error of calls on a connection whose pipe closed.
var errClosed = errors.New("the DevTools pipe closed")

func (c *conn) read() {
	br := bufio.NewReaderSize(c.r, 1<<20)
	var err error
	for {
		var b []byte
		b, err = br.ReadBytes(0)
		if err != nil {
			break
		}
		var m message
		if json.Unmarshal(b[:len(b)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				r := reply{Result: m.Result}
				if m.Error != nil {
					r.Err = fmt.Errorf("%s (%d)", m.Error.Message, m.Error.Code)
				}
				ch <- r
			}
			continue
		}
		c.mu.Lock()
		h := c.handlers[m.SessionID]
		c.mu.Unlock()
		if h != nil {
			var params map[string]any
			_ = json.Unmarshal(m.Params, &params)
			h(m.Method, params)
		}
	}
	c.mu.Lock()
	c.err = errClosed
	for id, ch := range c.pending {
		ch <- reply{Err: errClosed}
		delete(c.pending, id)
	}
	c.mu.Unlock()
	close(c.done)
}

// subscribe sends the events of a session to h, one at a time.
func (c *conn) subscribe(session string, h func(method string, params map[string]any)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers[session] = h
}

// call sends a command (to the browser when session is "", else to that
// page's session) and decodes its result into result, unless nil.
func (c *conn) call(ctx context.Context, session, method string, params any, result any) error {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, c.err)
	}
	c.next++
	id := c.next
	ch := make(chan reply, 1)
	c.pending[id] = ch
	c.mu.Unlock()

	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	c.wm.Lock()
	_, err = c.w.Write(append(b, 0))
	c.wm.Unlock()
	if err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return fmt.Errorf("%s: %w", method, r.Err)
		}
		if result != nil && len(r.Result) > 0 {
			if err := json.Unmarshal(r.Result, result); err != nil {
				return fmt.Errorf("%s: %w", method, err)
			}
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, context.Cause(ctx))
	}
}

// close closes the pipe's ends and waits for the reader to stop.
func (c *conn) close() {
	c.w.Close()
	c.r.Close()
	<-c.done
}

package regproxy

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/playbook-mlops/playbook/record"
)

// CellHeader is the request header that carries the token of the cell
// whose code makes the call (Options.CellTokens). The proxy removes it:
// it is never forwarded.
const CellHeader = "X-Playbook-Cell"

// Outcome prefixes of the calls the proxy refused for their origin.
const (
	// OutcomeEndedCell starts the outcome of a call made with the token
	// of a cell that had ended (a goroutine it left behind).
	OutcomeEndedCell = "refused: made by code of cell "
	// OutcomeNoCell is the outcome of a change made with no cell's token.
	OutcomeNoCell = "refused: made by no cell's code (no cell token)"
	// OutcomeUnknownCell is the outcome of a change made with a token the
	// proxy never gave.
	OutcomeUnknownCell = "refused: an unknown cell token"
)

// cells is the proxy's knowledge of the cells: the running one's token
// and step, and the steps of the tokens of those that ended.
type cells struct {
	mu      sync.Mutex
	current string // the running cell's token; "" between cells
	step    string // its step
	last    string // the step of the last cell begun
	ended   map[string]string
}

// BeginCell starts the attribution of calls to a cell of step step
// (Options.CellTokens): it returns the cell's token, which the kernel
// sends in the CellHeader of the calls that cell's code makes, until
// EndCell. A cell still running is ended first.
func (p *Proxy) BeginCell(step string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("regproxy: a cell token: %w", err)
	}
	tok := hex.EncodeToString(b[:])
	c := &p.cells
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked()
	c.current, c.step, c.last = tok, step, step
	return tok, nil
}

// EndCell revokes the running cell's token: a call made with it later
// (from a goroutine the cell left behind) is refused, and recorded as
// refused when it would have changed the registry.
func (p *Proxy) EndCell() {
	p.cells.mu.Lock()
	defer p.cells.mu.Unlock()
	p.cells.endLocked()
}

func (c *cells) endLocked() {
	if c.current == "" {
		return
	}
	if c.ended == nil {
		c.ended = map[string]string{}
	}
	c.ended[c.current] = c.step
	c.current, c.step = "", ""
}

// origin is who made a call: a running cell (step), or why it is refused.
type origin struct {
	step    string
	refused string // the outcome of a refused call; "" when it is not
	none    bool   // no token: reads pass, changes are refused
}

// originOf tells whose code made r, by its CellHeader. Without
// Options.CellTokens, every call is the current step's (Options.Step).
func (p *Proxy) originOf(r *http.Request) origin {
	if !p.opts.CellTokens {
		return origin{step: p.step()}
	}
	tok := r.Header.Get(CellHeader)
	c := &p.cells
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case tok == "":
		return origin{refused: OutcomeNoCell, none: true}
	case c.current != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(c.current)) == 1:
		return origin{step: c.step}
	}
	if step, ok := c.ended[tok]; ok {
		now := "between two cells"
		if c.current != "" {
			now = "while cell " + c.step + " ran"
		}
		return origin{step: step, refused: OutcomeEndedCell + step + " after that cell ended (" + now + ")"}
	}
	return origin{refused: OutcomeUnknownCell}
}

// refuse answers a call the proxy will not serve for its origin, and
// records it when it would have changed the registry.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, endpoint string, o origin) {
	if Forwarded(endpoint) && Mutating(r.Method, endpoint) {
		decoded, err := url.PathUnescape(endpoint)
		if err != nil {
			decoded = endpoint
		}
		call := &record.Call{Time: time.Now(), Step: o.step, Method: r.Method, Endpoint: decoded, DryRun: p.opts.DryRun, Outcome: o.refused}
		if r.Method == http.MethodPut && strings.HasPrefix(endpoint, uploadPrefix) {
			call.Args = map[string]any{"path": strings.TrimPrefix(decoded, uploadPrefix), "bytes": r.ContentLength}
		} else if r.ContentLength <= p.opts.MaxBody {
			buf, _ := io.ReadAll(io.LimitReader(r.Body, p.opts.MaxBody))
			if args := decodeArgs(buf); args != nil {
				Redact(args)
				call.Args = args
			}
		}
		p.finish(p.reserve(), call)
	}
	writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "playbook's registry proxy "+o.refused)
}

// Step is the running cell's step (Options.CellTokens), "" between
// cells: for the parent's own endpoints (Handle), whose requests come
// with the running cell's token or none.
func (p *Proxy) Step() string {
	p.cells.mu.Lock()
	defer p.cells.mu.Unlock()
	return p.cells.step
}

// lastStep is the step of the last cell begun, for the "after" snapshots.
func (p *Proxy) lastStep() string {
	if !p.opts.CellTokens {
		return p.step()
	}
	p.cells.mu.Lock()
	defer p.cells.mu.Unlock()
	return p.cells.last
}

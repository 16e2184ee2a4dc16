package mlflow

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// retryPolicy says when a call may be sent again. It follows MLflow 3.x's
// Python client (mlflow/utils/rest_utils.py), which is itself careful about
// writes that are not safe to repeat.
type retryPolicy int

const (
	// retrySafe is for calls that may be repeated whatever happened to the
	// first attempt: reads (GET, runs/search) and writes the server applies
	// as upserts or deduplicates (set-tag, delete-tag, set-alias,
	// delete-alias, runs/update, runs/log-batch, artifact PUT). Retried on
	// 408, 429, 500, 502, 503 and 504, and when no reply arrived.
	//
	// log-batch is safe because a resent batch carries the same values: the
	// SQL store keeps one row per (key, value, timestamp, step) metric,
	// accepts a param logged again with the same value, and upserts tags.
	retrySafe retryPolicy = iota
	// retryUnprocessed is for writes that would be duplicated if repeated
	// (create-*): retried only when the server certainly did not process the
	// request: 408, 429, or a connection that could not be opened. MLflow's
	// own server can answer 503 after it committed a write, so 503 is not
	// retried here.
	retryUnprocessed
)

// retryable reports whether a reply with this status may be retried.
func (p retryPolicy) retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return p == retrySafe
	}
	return false
}

// errNoReply cancels an attempt that saw no progress for Config.Timeout.
var errNoReply = errors.New("no progress within the timeout")

// send sends req until it gets a 2xx reply or retries run out. The returned
// reply's body must be closed; reading it keeps the attempt's timeout alive.
// Any other outcome is an *APIError.
//
// Between retries it waits Retry-After when the server sends one (unless
// Config.IgnoreRetryAfter), else BackoffFactor·2^(n-1) seconds plus up to
// BackoffJitter seconds for the n-th retry, capped at MaxBackoff. Unlike
// urllib3, whose first retry is immediate, the first retry waits too.
// A call that got no reply at all is retried only while the total time stays
// within Config.Timeout, so an unreachable server fails within Timeout.
func (c *Client) send(req *http.Request, policy retryPolicy) (*http.Response, error) {
	ctx := req.Context()
	start := time.Now()
	// uncertain records that an attempt of a change may have reached the
	// server without its reply reaching us.
	change := req.Method != http.MethodGet && req.Method != http.MethodHead
	uncertain := false
	failed := func(e *APIError) (*http.Response, error) {
		e.MayHaveApplied = change && uncertain
		return nil, e
	}
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, c.transportError(req, fmt.Errorf("rewinding the request body: %w", err))
				}
				r.Body = body
			}
		}
		resp, err := c.attempt(r)
		canRetry := attempt < c.cfg.MaxRetries && (r.Body == nil || r.Body == http.NoBody || req.GetBody != nil)

		if err != nil {
			apiErr := c.transportError(req, err)
			if !NotSent(err) {
				uncertain = true
			}
			delay := c.backoff(attempt + 1)
			if !canRetry || !retryableTransport(err, policy) || ctx.Err() != nil ||
				time.Since(start)+delay > c.cfg.Timeout {
				return failed(apiErr)
			}
			c.logRetry(req, attempt, slog.String("error", apiErr.Message), delay)
			if err := c.sleep(ctx, delay); err != nil {
				return failed(c.transportError(req, err))
			}
			continue
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}

		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		apiErr := c.checkResponse(resp, body)
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			// A gateway that lost the server after forwarding, or MLflow
			// answering 503 after it committed; playbook's own proxy says
			// "not sent" when the change never left it.
			if !strings.Contains(apiErr.Message, "not sent:") {
				uncertain = true
			}
		}
		if !canRetry || !policy.retryable(resp.StatusCode) || permanent(apiErr) {
			return failed(apiErr)
		}
		delay := c.backoff(attempt + 1)
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && !c.cfg.IgnoreRetryAfter {
			delay = min(d, c.cfg.MaxBackoff)
		}
		c.logRetry(req, attempt, slog.Int("status", resp.StatusCode), delay)
		if err := c.sleep(ctx, delay); err != nil {
			return failed(c.transportError(req, err))
		}
	}
}

// attempt sends one request under a watchdog that cancels it after
// Config.Timeout without progress: no reply headers, or no bytes of the
// request or reply body moving.
func (c *Client) attempt(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watchdog{d: c.cfg.Timeout, cancel: cancel}
	w.timer = time.AfterFunc(w.d, func() {
		w.fired.Store(true)
		cancel(errNoReply)
	})
	r := req.WithContext(ctx)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &progressBody{ReadCloser: r.Body, w: w}
	}
	began := time.Now()
	resp, err := c.httpClient.Do(r)
	if err != nil {
		w.stop()
		if w.fired.Load() && req.Context().Err() == nil {
			err = errNoReply
		}
		c.logger.LogAttrs(req.Context(), slog.LevelDebug, "mlflow request",
			slog.String("method", req.Method), slog.String("path", req.URL.Path),
			slog.Duration("duration", time.Since(began)), slog.String("error", c.scrub(err.Error())))
		return nil, err
	}
	w.kick()
	resp.Body = &watchedBody{ReadCloser: resp.Body, w: w}
	c.logger.LogAttrs(req.Context(), slog.LevelDebug, "mlflow request",
		slog.String("method", req.Method), slog.String("path", req.URL.Path),
		slog.Int("status", resp.StatusCode), slog.Duration("duration", time.Since(began)))
	return resp, nil
}

// watchdog cancels an attempt when its timer runs out; progress resets it.
type watchdog struct {
	d      time.Duration
	timer  *time.Timer
	cancel context.CancelCauseFunc
	fired  atomic.Bool
}

func (w *watchdog) kick() { w.timer.Reset(w.d) }

func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel(context.Canceled)
}

// progressBody kicks the watchdog as the transport reads a request body;
// closing it (the transport does, once sent) leaves the watchdog running.
type progressBody struct {
	io.ReadCloser
	w *watchdog
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.kick()
	}
	return n, err
}

// watchedBody kicks the watchdog on every read and stops it on Close. A read
// cut by the watchdog says so instead of "context canceled".
type watchedBody struct {
	io.ReadCloser
	w *watchdog
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.kick()
	}
	if err != nil && err != io.EOF && b.w.fired.Load() {
		err = fmt.Errorf("%w (%s)", errNoReply, b.w.d)
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.ReadCloser.Close()
	b.w.stop()
	return err
}

// transportError describes a call that got no usable reply.
func (c *Client) transportError(req *http.Request, err error) *APIError {
	e := c.newAPIError(req)
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // url.Error repeats the full URL, query included
	}
	switch {
	case errors.Is(err, errNoReply):
		e.Message = fmt.Sprintf("no reply within %s (set %s to wait longer)", c.cfg.Timeout, EnvTimeout)
		e.Err = context.DeadlineExceeded
		e.also = ErrUnavailable
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		e.Message = err.Error()
		e.Err = err
	default:
		e.Message = err.Error()
		e.Err = err
		e.also = ErrUnavailable
	}
	e.Message = c.scrub(e.Message)
	return e
}

// retryableTransport reports whether a call that got no reply may be sent
// again: any failure for safe calls, only a connection that could not be
// opened for the others. Certificate problems are never retried.
func retryableTransport(err error, policy retryPolicy) bool {
	var (
		certErr    *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		recordErr  tls.RecordHeaderError
		invalidErr x509.CertificateInvalidError
	)
	if errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) ||
		errors.As(err, &recordErr) || errors.As(err, &invalidErr) {
		return false
	}
	if policy == retrySafe {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// NotSent reports whether err, from a call that got no reply, certainly
// never reached the server: the connection could not be opened. Any other
// failure may have come after the server read the request.
func NotSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// permanent reports replies that retrying cannot change although their
// status is usually transient: MLflow's 503 for a server started without
// artifact serving, or in artifacts-only mode.
func permanent(e *APIError) bool {
	return e.StatusCode == http.StatusServiceUnavailable &&
		(strings.Contains(e.Message, "--no-serve-artifacts") || strings.Contains(e.Message, "--artifacts-only"))
}

// backoff is the wait before the n-th retry (n ≥ 1).
func (c *Client) backoff(n int) time.Duration {
	secs := c.cfg.BackoffFactor * math.Pow(2, float64(n-1))
	if c.cfg.BackoffJitter > 0 {
		secs += c.jitter() * c.cfg.BackoffJitter
	}
	d := time.Duration(secs * float64(time.Second))
	if secs*float64(time.Second) > float64(c.cfg.MaxBackoff) {
		d = c.cfg.MaxBackoff
	}
	return d
}

// retryAfter parses a Retry-After header: whole seconds or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s < 0 {
			s = 0
		}
		if s > math.MaxInt64/int64(time.Second) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func (c *Client) logRetry(req *http.Request, attempt int, why slog.Attr, delay time.Duration) {
	c.logger.LogAttrs(req.Context(), slog.LevelWarn, retryMessage,
		slog.String("method", req.Method), slog.String("path", req.URL.Path),
		slog.Int("retry", attempt+1), slog.Int("max_retries", c.cfg.MaxRetries),
		why, slog.Duration("wait", delay))
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// retryMessage is the message of the record logRetry logs.
const retryMessage = "mlflow: retrying"

// Retry is a call the client is about to send again, as a progress line
// tells it (see RetryHandler).
type Retry struct {
	Method string
	// Path is the request's path, without its query string. It holds no
	// credentials: the client sends those in headers, never in the URL.
	Path string
	// Retry counts the call's retries from 1, up to MaxRetries
	// (Config.MaxRetries). A call that got no reply stops retrying
	// earlier, once the next wait would take it past Config.Timeout.
	Retry, MaxRetries int
	// Wait is the time until the retry is sent.
	Wait time.Duration
}

// String returns the progress line of the retry, such as
// "retrying GET /api/2.0/mlflow/experiments/get-by-name, attempt 3 of 7, next in 8 s".
// The method keeps only its letters A to Z, the path is escaped: the line
// holds no control character.
func (r Retry) String() string {
	method := strings.Map(func(c rune) rune {
		if c >= 'A' && c <= 'Z' {
			return c
		}
		return -1
	}, r.Method)
	if len(method) > 16 {
		method = method[:16]
	}
	path := (&url.URL{Path: r.Path}).EscapedPath()
	if len(path) > 512 {
		path = path[:512] + "..."
	}
	secs := strconv.FormatFloat(max(r.Wait, 0).Round(100*time.Millisecond).Seconds(), 'f', -1, 64)
	return fmt.Sprintf("retrying %s %s, attempt %d of %d, next in %s s", method, path, r.Retry, r.MaxRetries, secs)
}

// RetryHandler returns a slog handler, for WithLogger, that calls f with
// each retry the client logs and drops its other logs: a command shows
// the retries of a server that does not answer as they happen.
func RetryHandler(f func(Retry)) slog.Handler { return retryHandler{f} }

type retryHandler struct{ f func(Retry) }

func (h retryHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h retryHandler) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != retryMessage {
		return nil
	}
	var r Retry
	rec.Attrs(func(a slog.Attr) bool {
		v := a.Value.Resolve()
		switch k := v.Kind(); {
		case a.Key == "method":
			r.Method = v.String()
		case a.Key == "path":
			r.Path = v.String()
		case a.Key == "retry" && k == slog.KindInt64:
			r.Retry = int(v.Int64())
		case a.Key == "max_retries" && k == slog.KindInt64:
			r.MaxRetries = int(v.Int64())
		case a.Key == "wait" && k == slog.KindDuration:
			r.Wait = v.Duration()
		}
		return true
	})
	h.f(r)
	return nil
}

func (h retryHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h retryHandler) WithGroup(string) slog.Handler      { return h }

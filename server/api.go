package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MLflow error codes (databricks.proto) and the HTTP status MLflow answers
// each with (mlflow/exceptions.py).
const (
	codeInvalidParameter = "INVALID_PARAMETER_VALUE"
	codeNotFound         = "RESOURCE_DOES_NOT_EXIST"
	codeAlreadyExists    = "RESOURCE_ALREADY_EXISTS"
	codeInternal         = "INTERNAL_ERROR"
)

// apiError is an error MLflow would answer with a JSON body
// {"error_code": ..., "message": ...}.
type apiError struct {
	Status  int
	Code    string
	Message string
	Class   string // MLflow's error_class when it is not the code's
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errInvalid(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: codeInvalidParameter, Message: fmt.Sprintf(format, args...)}
}

func errNotFound(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: fmt.Sprintf(format, args...)}
}

func errExists(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: codeAlreadyExists, Message: fmt.Sprintf(format, args...)}
}

// errInternal is MLflow's MlflowException without an error code: a 500.
// MLflow raises it for some refusals too (duplicate order_by fields).
func errInternal(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: fmt.Sprintf(format, args...)}
}

// errorBody is MLflow's serialized MlflowException.
type errorBody struct {
	ErrorCode  string `json:"error_code"`
	Message    string `json:"message"`
	SQLState   string `json:"sqlstate,omitempty"`
	ErrorClass string `json:"error_class,omitempty"`
}

// errorClasses maps error codes to MLflow's error_class and sqlstate
// (mlflow/error_classification.py).
var errorClasses = map[string][2]string{
	codeInvalidParameter: {"INVALID_PARAMETER_VALUE", "KAM00"},
	codeNotFound:         {"RESOURCE_NOT_FOUND", "KAM00"},
	codeAlreadyExists:    {"RESOURCE_ALREADY_EXISTS", "KAM00"},
	codeInternal:         {"CLIENT_INTERNAL_ERROR", "XXM00"},
	"BAD_REQUEST":        {"INVALID_PARAMETER_VALUE", "KAM00"},
	"INVALID_STATE":      {"CLIENT_INTERNAL_ERROR", "XXM00"},
}

// errorClassStates are the sqlstates of the error classes an apiError
// names itself.
var errorClassStates = map[string]string{"ATTRIBUTE_NOT_FOUND": "KAM04"}

// writeError writes e as MLflow does.
func writeError(w http.ResponseWriter, e *apiError) {
	body := errorBody{ErrorCode: e.Code, Message: e.Message}
	if c, ok := errorClasses[e.Code]; ok {
		body.ErrorClass, body.SQLState = c[0], c[1]
	}
	if e.Class != "" {
		body.ErrorClass, body.SQLState = e.Class, errorClassStates[e.Class]
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// writeJSON writes v as MLflow's message_to_json does: indented by two
// spaces, HTML characters unescaped.
func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		writeError(w, errInternal("encoding the reply: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

// empty is the reply of calls that return nothing: {}.
type empty struct{}

// maxBodyBytes bounds a JSON request body. MLflow's log-batch limit is
// 1 MB; anything far beyond is refused before it is read whole.
const maxBodyBytes = 16 << 20

// request holds a call's arguments: the query string of a GET that has
// one, else the JSON body, as MLflow's _get_request_message reads them.
type request struct {
	query url.Values     // GET with a query string
	body  map[string]any // every other case ({} when there is no body)
	raw   []byte         // the body as sent
	// pathValue returns a wildcard of the route's path ("" when none).
	pathValue func(name string) string
}

// readRequest reads r's arguments. POST and PUT must say Content-Type:
// application/json. A body that is not a JSON object counts as empty, as
// in MLflow (get_json(silent=True)).
func readRequest(r *http.Request) (*request, *apiError) {
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		return &request{query: r.URL.Query()}, nil
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			return nil, errInvalid("Bad Request. Content-Type header is missing.")
		}
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, errInvalid("Bad Request. Content-Type must be one of ['application/json'].")
		}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, errInvalid("reading the request body: %v", err)
	}
	if len(raw) > maxBodyBytes {
		return nil, errInvalid("the request body is larger than %d bytes", maxBodyBytes)
	}
	req := &request{body: map[string]any{}, raw: raw}
	if len(bytes.TrimSpace(raw)) == 0 {
		return req, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return req, nil
	}
	if s, ok := v.(string); ok { // double-encoded by old clients
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			return req, nil
		}
	}
	if m, ok := v.(map[string]any); ok {
		req.body = m
	}
	return req, nil
}

// has reports whether the call names field.
func (q *request) has(field string) bool {
	if q.query != nil {
		_, ok := q.query[field]
		return ok
	}
	v, ok := q.body[field]
	return ok && v != nil
}

// missing is MLflow's message for a required parameter that is absent.
func missing(field string) *apiError {
	return errInvalid("Missing value for required parameter '%s'. See the API docs for more information about request parameters.", field)
}

// badType is MLflow's message for a parameter of the wrong JSON type.
func badType(field string, v any) *apiError {
	b, _ := json.Marshal(v)
	return errInvalid("Invalid value %s for parameter '%s' supplied:  Hint: Value was of type '%s'. See the API docs for more information about request parameters.",
		b, field, pyType(v))
}

// str returns a string field; "" when absent. A required field that is
// absent or empty is an error, as is a value that is not a string.
func (q *request) str(field string, required bool) (string, *apiError) {
	var s string
	if q.query != nil {
		s = q.query.Get(field)
	} else if v, ok := q.body[field]; ok && v != nil {
		var isStr bool
		if s, isStr = v.(string); !isStr {
			return "", badType(field, v)
		}
	}
	if required && s == "" {
		return "", missing(field)
	}
	return s, nil
}

// int64Field returns an integer field (a JSON number or a string of
// digits, as protobuf's JSON mapping accepts) and whether it was given.
func (q *request) int64Field(field string, required bool) (int64, bool, *apiError) {
	var raw any
	if q.query != nil {
		vs, ok := q.query[field]
		if ok && len(vs) > 0 {
			raw = vs[0]
		}
	} else {
		raw = q.body[field]
	}
	if raw == nil || raw == "" {
		if required {
			return 0, false, missing(field)
		}
		return 0, false, nil
	}
	var text string
	switch v := raw.(type) {
	case json.Number:
		text = v.String()
	case string:
		text = v
	default:
		return 0, false, badType(field, raw)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(text, 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, false, badType(field, raw)
		}
		n = int64(f)
	}
	return n, true, nil
}

// strings returns a repeated string field: every value of a query
// parameter, or a JSON array of strings.
func (q *request) strs(field string) ([]string, *apiError) {
	if q.query != nil {
		return q.query[field], nil
	}
	list, v, e := q.list(field)
	if list == nil || e != nil {
		return nil, e
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, badType(field, v)
		}
		out = append(out, s)
	}
	return out, nil
}

// list returns a JSON array field of the body and its raw value; nil
// when absent or null.
func (q *request) list(field string) ([]any, any, *apiError) {
	v, ok := q.body[field]
	if !ok || v == nil {
		return nil, nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, v, badType(field, v)
	}
	return list, v, nil
}

// keyValue is an MLflow tag or param in a request.
type keyValue struct {
	Key, Value string
}

// pairs returns a repeated {key, value} field. Entries without a key keep
// an empty key: the store's validation names them.
func (q *request) pairs(field string) ([]keyValue, *apiError) {
	if q.query != nil {
		return nil, nil
	}
	list, v, e := q.list(field)
	if list == nil || e != nil {
		return nil, e
	}
	out := make([]keyValue, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, badType(field, v)
		}
		var kv keyValue
		kv.Key, _ = m["key"].(string)
		if val, ok := m["value"]; ok && val != nil {
			switch x := val.(type) {
			case string:
				kv.Value = x
			case json.Number:
				kv.Value = x.String()
			case bool:
				kv.Value = strconv.FormatBool(x)
			default:
				return nil, badType(field, v)
			}
		}
		out = append(out, kv)
	}
	return out, nil
}

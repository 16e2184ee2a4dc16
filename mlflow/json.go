package mlflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// decodeJSON unmarshals an MLflow reply. MLflow writes non-finite doubles as
// the strings "NaN", "Infinity" and "-Infinity" (protobuf's JSON mapping),
// which Metric decodes; a server that writes them bare, as Python's json
// module does, is tolerated too: on a syntax error the bare tokens are
// quoted and decoding is tried once more.
func decodeJSON(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) && (bytes.Contains(body, []byte("NaN")) || bytes.Contains(body, []byte("Infinity"))) {
		if fixed, changed := quoteNonFinite(body); changed {
			return json.Unmarshal(fixed, v)
		}
	}
	return err
}

// quoteNonFinite quotes bare NaN, Infinity and -Infinity tokens outside
// JSON strings.
func quoteNonFinite(b []byte) ([]byte, bool) {
	out := make([]byte, 0, len(b)+16)
	changed := false
	inString, escaped := false, false
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if inString {
			out = append(out, ch)
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
			continue
		}
		if ch == '"' {
			inString = true
			out = append(out, ch)
			continue
		}
		matched := false
		for _, tok := range []string{"NaN", "Infinity", "-Infinity"} {
			if bytes.HasPrefix(b[i:], []byte(tok)) {
				out = append(out, '"')
				out = append(out, tok...)
				out = append(out, '"')
				i += len(tok) - 1
				matched, changed = true, true
				break
			}
		}
		if !matched {
			out = append(out, ch)
		}
	}
	return out, changed
}

// float64JSON decodes a JSON number or one of the strings "NaN", "Infinity",
// "-Infinity" (any number in a string is accepted too).
func float64JSON(raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var numErr *strconv.NumError
		if errors.As(err, &numErr) && numErr.Err == strconv.ErrRange {
			return f, nil // ±Inf for overflow, as Python does
		}
		return 0, fmt.Errorf("metric value %s is not a number", raw)
	}
	return f, nil
}

// float64Token encodes f for MLflow: a JSON number, or "NaN", "Infinity",
// "-Infinity" as strings (protobuf's JSON mapping, which MLflow parses).
func float64Token(f float64) json.RawMessage {
	switch {
	case math.IsNaN(f):
		return json.RawMessage(`"NaN"`)
	case math.IsInf(f, 1):
		return json.RawMessage(`"Infinity"`)
	case math.IsInf(f, -1):
		return json.RawMessage(`"-Infinity"`)
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64)
}

// int64JSON is an int64 that decodes from a JSON number or a string holding
// one (protobuf's JSON mapping writes int64 as strings; MLflow converts them
// back to numbers, other servers may not).
type int64JSON int64

func (n *int64JSON) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*n = 0
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(b), 64) // 1.7e12 style
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt64 {
			return fmt.Errorf("%s is not a whole number", b)
		}
		v = int64(f)
	}
	*n = int64JSON(v)
	return nil
}

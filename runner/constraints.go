package runner

import (
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// Kinds of string parameters, checked by what MLflow or the run accepts.
const (
	KindAlias     = "alias"      // an MLflow model alias (mlflow.ValidateAlias)
	KindModelName = "model_name" // an MLflow registered model name
	KindFile      = "file"       // a file inside the scenario's folder
)

var paramKinds = []string{KindAlias, KindModelName, KindFile}

// Constraints are what a parameter's value must satisfy, declared beside
// its default in the front matter; they are checked, for every parameter
// at once, before any cell runs.
type Constraints struct {
	Enum       []string       // the value is one of these (strings, list items)
	Min, Max   *float64       // bounds, inclusive (numbers, integers, durations in seconds)
	Pattern    *regexp.Regexp // the whole value matches (strings, list items)
	Nonempty   bool           // not empty, the default included
	AllowEmpty bool           // -p name= (empty) is accepted
	Kind       string         // Kind*
	// DistinctFrom names parameters whose value this one must differ from.
	DistinctFrom []string
}

// parseConstraint reads one constraint key of a parameter's mapping; it
// reports false when key is not a constraint.
func (p *ParamSpec) parseConstraint(key string, f *yaml.Node) (bool, error) {
	c := &p.Constraints
	num := func() (*float64, error) {
		if d, err := time.ParseDuration(f.Value); err == nil && f.Tag == "!!str" {
			s := d.Seconds()
			return &s, nil
		}
		v, err := strconv.ParseFloat(f.Value, 64)
		if err != nil || math.IsNaN(v) {
			return nil, fmt.Errorf("%s: want a number, not %q", key, f.Value)
		}
		return &v, nil
	}
	texts := func() ([]string, error) {
		if f.Kind == yaml.ScalarNode {
			return []string{f.Value}, nil
		}
		if f.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s: want a list of texts", key)
		}
		var l []string
		for _, e := range f.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s: want a list of texts", key)
			}
			l = append(l, e.Value)
		}
		return l, nil
	}
	boolean := func(dst *bool) error {
		b, err := strconv.ParseBool(f.Value)
		if err != nil {
			return fmt.Errorf("%s: want true or false, not %q", key, f.Value)
		}
		*dst = b
		return nil
	}
	var err error
	switch key {
	case "enum":
		c.Enum, err = texts()
	case "min":
		c.Min, err = num()
	case "max":
		c.Max, err = num()
	case "pattern":
		c.Pattern, err = regexp.Compile(`^(?:` + f.Value + `)$`)
		if err != nil {
			err = fmt.Errorf("pattern %q: %v", f.Value, err)
		}
	case "nonempty":
		err = boolean(&c.Nonempty)
	case "allow_empty":
		err = boolean(&c.AllowEmpty)
	case "kind":
		if !slices.Contains(paramKinds, f.Value) {
			return true, fmt.Errorf("kind %q: want one of %s", f.Value, strings.Join(paramKinds, ", "))
		}
		c.Kind = f.Value
	case "distinct_from":
		c.DistinctFrom, err = texts()
	default:
		return false, nil
	}
	return true, err
}

// constraintKeys are the keys of parseConstraint, for messages.
const constraintKeys = "enum, min, max, pattern, nonempty, allow_empty, kind, distinct_from"

// checkDeclared reports a constraint that does not fit the parameter's type.
func (p *ParamSpec) checkDeclared() error {
	c := p.Constraints
	textual := p.Type == record.TypeString || p.Type == record.TypeList
	switch {
	case (c.Min != nil || c.Max != nil) && !(p.Type == record.TypeNumber || p.Type == record.TypeInteger || p.Type == record.TypeDuration):
		return fmt.Errorf("min and max apply to numbers, integers and durations, not to a %s", p.Type)
	case c.Min != nil && c.Max != nil && *c.Min > *c.Max:
		return fmt.Errorf("min %v is more than max %v", *c.Min, *c.Max)
	case (len(c.Enum) > 0 || c.Pattern != nil || c.Kind != "" || c.Nonempty || c.AllowEmpty) && !textual:
		return fmt.Errorf("enum, pattern, kind, nonempty and allow_empty apply to strings and lists, not to a %s", p.Type)
	case c.Kind != "" && p.Type != record.TypeString:
		return fmt.Errorf("kind applies to strings, not to a %s", p.Type)
	case c.Nonempty && c.AllowEmpty:
		return fmt.Errorf("nonempty and allow_empty contradict each other")
	}
	return nil
}

// allowsEmpty reports whether an explicitly empty value (-p name=) is
// accepted: when the parameter says so, or its default is itself empty.
func (p *ParamSpec) allowsEmpty() bool {
	if p.Constraints.Nonempty {
		return false
	}
	if p.Constraints.AllowEmpty {
		return true
	}
	switch d := p.Default.(type) {
	case string:
		return d == ""
	case []string:
		return len(d) == 0
	}
	return false
}

// ValidateParams checks every resolved parameter of sc against its
// declared constraints and returns every violation (Errors), each naming
// the parameter, the line that declares it, the value and what is
// accepted. Required parameters still without a value (check) are not
// checked.
func ValidateParams(sc *Scenario, params []record.Param) error {
	return validateParams(sc.Path, scenarioDir(sc), sc.Params, params).err()
}

func validateParams(file, dir string, specs []ParamSpec, params []record.Param) Errors {
	byName := map[string]record.Param{}
	for _, p := range params {
		byName[p.Name] = p
	}
	var errs Errors
	for _, s := range specs {
		p, ok := byName[s.Name]
		if !ok || (s.Required && p.Source != record.SourceFlag) {
			continue
		}
		msg := s.violation(p.Value, dir)
		if p.Source == record.SourceFlag && isEmpty(p.Value) && !s.allowsEmpty() {
			msg = "an explicitly empty value is not accepted (it does not mean the default); give a value, or leave -p " + s.Name + " out for the default " + show(s.Default)
		}
		if msg != "" {
			from := "its default"
			if p.Source == record.SourceFlag {
				from = "from -p"
			}
			errs = append(errs, scenarioErr(file, s.Line, "parameter %s = %s (%s): %s", s.Name, show(p.Value), from, msg))
			continue
		}
		for _, o := range s.Constraints.DistinctFrom {
			q, ok := byName[o]
			if !ok {
				errs = append(errs, scenarioErr(file, s.Line, "parameter %s: distinct_from names %q, which this scenario does not declare", s.Name, o))
				continue
			}
			if fmt.Sprint(q.Value) == fmt.Sprint(p.Value) {
				errs = append(errs, scenarioErr(file, s.Line, "parameter %s = %s: must differ from parameter %s, which has the same value", s.Name, show(p.Value), o))
			}
		}
	}
	return errs
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v) == ""
	case []string:
		return len(v) == 0
	}
	return false
}

func show(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []string:
		return strconv.Quote(strings.Join(v, ","))
	case time.Duration:
		return v.String()
	}
	return fmt.Sprint(v)
}

// violation returns why v breaks s's constraints, ending with what is
// accepted; "" when it does not.
func (s *ParamSpec) violation(v any, dir string) string {
	c := s.Constraints
	var items []string
	switch v := v.(type) {
	case string:
		items = []string{v}
		if v == "" {
			if c.Nonempty {
				return "must not be empty"
			}
			return "" // empty and allowed: the kind and pattern are for values
		}
	case []string:
		items = v
		if len(v) == 0 && c.Nonempty {
			return "must not be empty"
		}
	case float64, int, time.Duration:
		var f float64
		switch v := v.(type) {
		case float64:
			f = v
		case int:
			f = float64(v)
		case time.Duration:
			f = v.Seconds()
		}
		if (c.Min != nil && f < *c.Min) || (c.Max != nil && f > *c.Max) {
			return "out of range; accepted: " + s.rangeText()
		}
		return ""
	}
	for _, it := range items {
		if len(c.Enum) > 0 && !slices.Contains(c.Enum, it) {
			return fmt.Sprintf("%q is not accepted; accepted: %s", it, strings.Join(c.Enum, ", "))
		}
		if c.Pattern != nil && !c.Pattern.MatchString(it) {
			return fmt.Sprintf("%q does not match; accepted: text matching %s", it, c.Pattern)
		}
		if msg := kindViolation(c.Kind, it, dir); msg != "" {
			return msg
		}
	}
	return ""
}

func (s *ParamSpec) rangeText() string {
	c := s.Constraints
	unit := func(f float64) string {
		if s.Type == record.TypeDuration {
			return time.Duration(f * float64(time.Second)).String()
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	switch {
	case c.Min != nil && c.Max != nil:
		return fmt.Sprintf("from %s to %s", unit(*c.Min), unit(*c.Max))
	case c.Min != nil:
		return fmt.Sprintf("%s or more", unit(*c.Min))
	}
	return fmt.Sprintf("%s or less", unit(*c.Max))
}

const (
	aliasAccepted     = "accepted: an MLflow alias: letters, digits, _ and -, at most 255 characters, not latest nor v<digits>"
	modelNameAccepted = `accepted: an MLflow model name: not blank, no "/" nor ":", not a path that resolves to another name`
)

func kindViolation(kind, v, dir string) string {
	switch kind {
	case KindAlias:
		if err := mlflow.ValidateAlias(v); err != nil {
			msg := strings.TrimPrefix(err.Error(), mlflow.ErrInvalidParameter.Error()+": ")
			return msg + "; " + aliasAccepted
		}
	case KindModelName:
		switch {
		case strings.TrimSpace(v) == "":
			return "a blank model name; " + modelNameAccepted
		case strings.ContainsAny(v, "/:"):
			return "a model name cannot contain \"/\" or \":\"; " + modelNameAccepted
		}
		if n := path.Clean(v); n != v || n == "." || strings.HasPrefix(n, "..") {
			return fmt.Sprintf("as a path it resolves to %q; %s", n, modelNameAccepted)
		}
	case KindFile:
		const acc = "accepted: the path of a file inside the scenario's folder, relative to it"
		if filepath.IsAbs(v) || !filepath.IsLocal(v) {
			return "the path leaves the scenario's folder; " + acc
		}
		if dir == "" {
			return "the run has no scenario folder; " + acc
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			return err.Error() + "; " + acc
		}
		defer root.Close()
		fi, err := root.Stat(v)
		switch {
		case err != nil && strings.Contains(err.Error(), "escapes"):
			return "the path leads out of the scenario's folder through a symbolic link; " + acc
		case err != nil:
			return fmt.Sprintf("no such file in %s; %s", dir, acc)
		case !fi.Mode().IsRegular():
			return "not a regular file; " + acc
		}
	}
	return ""
}

package runner

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/record"
)

// ParamSpec is a parameter declared in a scenario's front matter.
type ParamSpec struct {
	Name string
	// GoName is the field of params that cells read: min_f1 → MinF1.
	GoName      string
	Type        string // record.Type*
	Description string
	// Default holds the default typed by Type (string, float64, int, bool,
	// []string, time.Duration); nil when Required.
	Default  any
	Required bool
	Line     int
	// Constraints are what a value must satisfy (constraints.go).
	Constraints Constraints
}

// ParamError is a wrong -p override or a missing required value.
type ParamError struct{ Msg string }

func (e *ParamError) Error() string { return e.Msg }

var paramName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

var paramTypes = []string{record.TypeString, record.TypeNumber, record.TypeInteger, record.TypeBool, record.TypeList, record.TypeDuration}

// parseParams reads the params mapping of a front matter. Each entry is
// either "name: default" (type inferred from the default) or
// "name: {default: ..., type: ..., description: ..., required: true}".
func parseParams(file string, n *yaml.Node, offset int) ([]ParamSpec, Errors) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, Errors{scenarioErr(file, n.Line+offset, "params: want one name: default per line")}
	}
	var specs []ParamSpec
	var errs Errors
	goNames := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		line := k.Line + offset
		p, err := parseParam(k.Value, v)
		if err != nil {
			errs = append(errs, scenarioErr(file, line, "parameter %q: %v", k.Value, err))
			continue
		}
		p.Line = line
		if other, dup := goNames[p.GoName]; dup {
			errs = append(errs, scenarioErr(file, line, "parameters %q and %q both become params.%s: rename one", other, p.Name, p.GoName))
			continue
		}
		goNames[p.GoName] = p.Name
		specs = append(specs, p)
	}
	return specs, errs
}

func parseParam(name string, v *yaml.Node) (ParamSpec, error) {
	p := ParamSpec{Name: name}
	if !paramName.MatchString(name) {
		return p, fmt.Errorf("a name is lower-case letters, digits and _, starting with a letter")
	}
	p.GoName = goName(name)
	var def *yaml.Node
	switch v.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, f := v.Content[i], v.Content[i+1]
			switch k.Value {
			case "default":
				def = f
			case "type":
				if !isParamType(f.Value) {
					return p, fmt.Errorf("type %q: want one of %s", f.Value, strings.Join(paramTypes, ", "))
				}
				p.Type = f.Value
			case "description":
				p.Description = f.Value
			case "required":
				b, err := strconv.ParseBool(f.Value)
				if err != nil {
					return p, fmt.Errorf("required: want true or false, not %q", f.Value)
				}
				p.Required = b
			default:
				ok, err := p.parseConstraint(k.Value, f)
				if err != nil {
					return p, err
				}
				if !ok {
					return p, fmt.Errorf("unknown key %q (accepted: default, type, description, required, %s)", k.Value, constraintKeys)
				}
			}
		}
	default:
		def = v
	}
	if def != nil && def.Kind == yaml.ScalarNode && def.Tag == "!!null" {
		def = nil
	}
	switch {
	case def == nil && !p.Required:
		return p, fmt.Errorf("no default: give one (name: value), or write {type: string, required: true}")
	case def != nil && p.Required:
		return p, fmt.Errorf("has a default and required: true: a required parameter has no default")
	case def == nil:
		if p.Type == "" {
			p.Type = record.TypeString
		}
		return p, p.checkDeclared()
	}
	if p.Type == "" {
		p.Type = inferType(def)
		if p.Type == "" {
			return p, fmt.Errorf("default: want a text, a number, true/false, a duration or a list of texts")
		}
	}
	val, err := yamlValue(p.Type, def)
	if err != nil {
		return p, fmt.Errorf("default: %v", err)
	}
	p.Default = val
	return p, p.checkDeclared()
}

func isParamType(t string) bool {
	for _, pt := range paramTypes {
		if t == pt {
			return true
		}
	}
	return false
}

// inferType returns the type of a default written without type:. A YAML
// integer is an integer, a float a number, true/false a bool, a sequence a
// list; an unquoted text that parses as a Go duration (30s, 1h30m) is a
// duration, any other text a string.
func inferType(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return record.TypeList
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			return record.TypeInteger
		case "!!float":
			return record.TypeNumber
		case "!!bool":
			return record.TypeBool
		case "!!str":
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
				if _, err := time.ParseDuration(n.Value); err == nil {
					return record.TypeDuration
				}
			}
			return record.TypeString
		}
	}
	return ""
}

// yamlValue converts a YAML default to typ.
func yamlValue(typ string, n *yaml.Node) (any, error) {
	if typ == record.TypeList {
		if n.Kind == yaml.ScalarNode {
			return parseValue(typ, n.Value)
		}
		if n.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("want a list of texts")
		}
		l := make([]string, 0, len(n.Content))
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("want a list of texts")
			}
			l = append(l, e.Value)
		}
		return l, nil
	}
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("want a single %s", typ)
	}
	if n.Tag == "!!float" && typ == record.TypeNumber {
		// YAML spellings such as .inf and .nan.
		var f float64
		if err := n.Decode(&f); err == nil {
			return f, nil
		}
	}
	return parseValue(typ, n.Value)
}

// parseValue parses s as a value of typ, as -p name=s gives it.
func parseValue(typ, s string) (any, error) {
	switch typ {
	case record.TypeString:
		return s, nil
	case record.TypeNumber:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a finite number", s)
		}
		return f, nil
	case record.TypeInteger:
		i, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return i, nil
	case record.TypeBool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", s)
		}
		return b, nil
	case record.TypeDuration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration such as 30s or 5m", s)
		}
		return d, nil
	case record.TypeList:
		l := []string{}
		for _, e := range strings.Split(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				l = append(l, e)
			}
		}
		return l, nil
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

// goName turns a parameter name into an exported Go field name:
// min_f1 → MinF1, model_name → ModelName.
func goName(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if part == "" {
			continue
		}
		r := []rune(part)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

// article returns "a" or "an" for a type name, for messages.
func article(typ string) string {
	if typ == record.TypeInteger {
		return "an"
	}
	if typ == record.TypeList {
		return "a comma-separated"
	}
	return "a"
}

// accepted lists the parameters of specs for messages.
func accepted(specs []ParamSpec) string {
	if len(specs) == 0 {
		return "this scenario declares no parameters"
	}
	s := make([]string, len(specs))
	for i, p := range specs {
		s[i] = fmt.Sprintf("%s (%s)", p.Name, p.Type)
	}
	return "accepted parameters: " + strings.Join(s, ", ")
}

// ResolveParams applies overrides ("name=value", from -p) to the defaults of
// specs. An unknown name, a value of the wrong type or a required parameter
// left without a value is a *ParamError that lists what is accepted.
func ResolveParams(specs []ParamSpec, overrides []string) ([]record.Param, error) {
	out := make([]record.Param, len(specs))
	index := map[string]int{}
	for i, p := range specs {
		index[p.Name] = i
		out[i] = record.Param{Name: p.Name, GoName: p.GoName, Type: p.Type, Value: p.Default, Source: record.SourceDefault, Description: p.Description}
	}
	for _, o := range overrides {
		name, value, ok := strings.Cut(o, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, &ParamError{fmt.Sprintf("-p %s: want name=value (%s)", o, accepted(specs))}
		}
		i, known := index[name]
		if !known {
			return nil, &ParamError{fmt.Sprintf("-p %s: unknown parameter %q (%s)", o, name, accepted(specs))}
		}
		p := specs[i]
		v, err := parseValue(p.Type, value)
		if err != nil {
			return nil, &ParamError{fmt.Sprintf("-p %s: parameter %q is %s %s; %v (%s)", o, name, article(p.Type), p.Type, err, accepted(specs))}
		}
		out[i].Value, out[i].Source = v, record.SourceFlag
	}
	for i, p := range specs {
		if p.Required && out[i].Source != record.SourceFlag {
			return nil, &ParamError{fmt.Sprintf("parameter %q (%s) is required: pass -p %s=VALUE (%s)", p.Name, p.Type, p.Name, accepted(specs))}
		}
	}
	return out, nil
}

// paramsSource returns the Go source that declares the params variable
// cells read: an anonymous struct with one exported field per parameter.
// A required parameter without a value (check) gets its zero value.
func paramsSource(params []record.Param) string {
	var fields, values strings.Builder
	for _, p := range params {
		fmt.Fprintf(&fields, "\t%s %s\n", p.GoName, goType(p.Type))
		if p.Value != nil {
			fmt.Fprintf(&values, "\t%s: %s,\n", p.GoName, goLiteral(p.Value))
		}
	}
	return "var params = struct {\n" + fields.String() + "}{\n" + values.String() + "}"
}

func goType(typ string) string {
	switch typ {
	case record.TypeNumber:
		return "float64"
	case record.TypeInteger:
		return "int"
	case record.TypeBool:
		return "bool"
	case record.TypeList:
		return "[]string"
	case record.TypeDuration:
		return "time.Duration"
	}
	return "string"
}

func goLiteral(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case float64:
		switch {
		case math.IsNaN(v):
			return "math.NaN()"
		case math.IsInf(v, 1):
			return "math.Inf(1)"
		case math.IsInf(v, -1):
			return "math.Inf(-1)"
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case time.Duration:
		return fmt.Sprintf("time.Duration(%d)", int64(v))
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return "[]string{" + strings.Join(q, ", ") + "}"
	}
	panic(fmt.Sprintf("runner: no Go literal for %T", v))
}

// recordValue returns v as the run record stores it: durations as text.
func recordValue(v any) any {
	if d, ok := v.(time.Duration); ok {
		return d.String()
	}
	return v
}

// SplitOverrides hands each scenario of a run the -p overrides of the
// parameters it declares. With one scenario every override goes to it (an
// unknown name is then its error); with several, a name that no scenario
// declares is a *ParamError.
func SplitOverrides(scs []*Scenario, overrides []string) ([][]string, error) {
	out := make([][]string, len(scs))
	if len(scs) == 1 {
		out[0] = overrides
		return out, nil
	}
	var all []ParamSpec
	seen := map[string]bool{}
	for _, sc := range scs {
		for _, p := range sc.Params {
			if !seen[p.Name] {
				seen[p.Name] = true
				all = append(all, p)
			}
		}
	}
	for _, o := range overrides {
		name, _, _ := strings.Cut(o, "=")
		name = strings.TrimSpace(name)
		if !seen[name] {
			return nil, &ParamError{fmt.Sprintf("-p %s: no scenario declares parameter %q (%s)", o, name, accepted(all))}
		}
		for i, sc := range scs {
			for _, p := range sc.Params {
				if p.Name == name {
					out[i] = append(out[i], o)
				}
			}
		}
	}
	return out, nil
}

package report

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxCurvePoints is the most points one curve of a plot keeps in a report.
// The steps thin their curves already; the report thins whatever a record
// holds (a plot a cell drew itself), so that no report grows with the data.
const MaxCurvePoints = 500

// ErrSVG is the cause of the error for a plot that is not an SVG image the
// report can embed.
var ErrSVG = errors.New("report: not an SVG image")

// svgElements are the SVG elements a plot may hold: drawing and text. Any
// other element (script, style, foreignObject, a, animate, ...) is dropped
// with its content.
var svgElements = map[string]bool{
	"svg": true, "g": true, "path": true, "rect": true, "circle": true, "ellipse": true,
	"line": true, "polyline": true, "polygon": true, "text": true, "tspan": true,
	"title": true, "desc": true, "defs": true, "clipPath": true, "mask": true,
	"linearGradient": true, "radialGradient": true, "stop": true, "pattern": true,
	"symbol": true, "use": true, "image": true, "marker": true,
}

// cleanSVG returns an SVG image with nothing in it but drawing: only the
// elements of svgElements, no event handler attribute, no reference to
// anything outside the image (href and url() only to "#id", images only as
// data: PNG, JPEG or GIF), no comment, processing instruction or DOCTYPE.
// Curves (path elements that are one polyline) of more than MaxCurvePoints
// points are thinned to MaxCurvePoints, the first and last points kept.
//
// Plots are drawn by gonum/plot, but their titles and labels may come from
// a scenario or from MLflow; and a run record is a file anyone can write.
func cleanSVG(svg string) (string, error) {
	d := xml.NewDecoder(strings.NewReader(svg))
	d.Strict = true
	var b strings.Builder
	b.Grow(len(svg))
	var stack []string // names of the open elements written
	skip := 0          // depth inside a dropped element
	pending := false   // a start tag written without its closing '>'
	root := false
	for {
		t, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrSVG, err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			if skip > 0 {
				skip++
				continue
			}
			name := t.Name.Local
			if t.Name.Space != "" || !svgElements[name] {
				if !root {
					return "", fmt.Errorf("%w: the root element is <%s>", ErrSVG, qname(t.Name))
				}
				skip = 1
				continue
			}
			if !root && name != "svg" {
				return "", fmt.Errorf("%w: the root element is <%s>", ErrSVG, name)
			}
			if root && len(stack) == 0 {
				return "", fmt.Errorf("%w: content after the root element", ErrSVG)
			}
			root = true
			if pending {
				b.WriteByte('>')
			}
			b.WriteByte('<')
			b.WriteString(name)
			if len(stack) == 0 {
				// An SVG image needs its namespaces declared.
				has := map[string]bool{}
				for _, a := range t.Attr {
					has[qname(a.Name)] = true
				}
				if !has["xmlns"] {
					b.WriteString(` xmlns="http://www.w3.org/2000/svg"`)
				}
				if !has["xmlns:xlink"] {
					b.WriteString(` xmlns:xlink="http://www.w3.org/1999/xlink"`)
				}
			}
			for _, a := range t.Attr {
				k, v, ok := cleanAttr(name, a)
				if !ok {
					continue
				}
				b.WriteByte(' ')
				b.WriteString(k)
				b.WriteString(`="`)
				escapeXML(&b, v)
				b.WriteByte('"')
			}
			pending = true
			stack = append(stack, name)
		case xml.EndElement:
			if skip > 0 {
				skip--
				continue
			}
			if len(stack) == 0 || stack[len(stack)-1] != t.Name.Local || t.Name.Space != "" {
				return "", fmt.Errorf("%w: unexpected </%s>", ErrSVG, qname(t.Name))
			}
			stack = stack[:len(stack)-1]
			if pending {
				b.WriteString("/>")
				pending = false
			} else {
				b.WriteString("</" + t.Name.Local + ">")
			}
		case xml.CharData:
			if skip > 0 || len(stack) == 0 {
				continue
			}
			if pending {
				b.WriteByte('>')
				pending = false
			}
			escapeXML(&b, string(t))
		}
		// Comments, processing instructions and directives are dropped.
	}
	if !root {
		return "", fmt.Errorf("%w: no <svg> element", ErrSVG)
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("%w: <%s> is not closed", ErrSVG, stack[len(stack)-1])
	}
	return b.String(), nil
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// cleanAttr returns the attribute as it may be written, or false to drop
// it.
func cleanAttr(elem string, a xml.Attr) (name, value string, ok bool) {
	name, value = a.Name.Local, a.Value
	switch a.Name.Space {
	case "":
	case "xmlns", "xml":
		name = a.Name.Space + ":" + name
	case "xlink":
		if name != "href" {
			return "", "", false
		}
		name = "xlink:href"
	default:
		return "", "", false
	}
	lower := strings.ToLower(name)
	lv := strings.ToLower(value)
	switch {
	case strings.HasPrefix(lower, "on"):
		return "", "", false
	case lower == "href" || lower == "xlink:href":
		if !strings.HasPrefix(value, "#") && !(elem == "image" && dataImage(lv)) {
			return "", "", false
		}
	case strings.Contains(lv, "javascript:") || strings.Contains(lv, "expression(") || strings.Contains(lv, "@import"):
		return "", "", false
	}
	if !localURLs(lv) {
		return "", "", false
	}
	if elem == "path" && lower == "d" {
		value = thinPath(value, MaxCurvePoints)
	}
	return name, value, true
}

// dataImage reports whether a (lower-cased) URL is a data: raster image.
func dataImage(v string) bool {
	for _, p := range []string{"data:image/png;", "data:image/jpeg;", "data:image/gif;"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// localURLs reports whether every url(...) in v points inside the image.
func localURLs(v string) bool {
	for {
		i := strings.Index(v, "url(")
		if i < 0 {
			return true
		}
		v = strings.TrimLeft(v[i+4:], " \t\n'\"")
		if !strings.HasPrefix(v, "#") {
			return false
		}
	}
}

// escapeXML writes s escaped for text and attribute values.
func escapeXML(b *strings.Builder, s string) {
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#39;")
		default:
			b.WriteRune(r)
		}
	}
}

// thinPath keeps at most max points of a path that is one polyline ("M x,y
// L x,y L x,y ...", optionally closed by Z), evenly spaced, the first and
// last kept. Other paths are returned as they are.
func thinPath(d string, max int) string {
	t := strings.TrimSpace(d)
	if !strings.HasPrefix(t, "M") || strings.Count(t, "L") < max {
		return d
	}
	closed := strings.HasSuffix(t, "Z") || strings.HasSuffix(t, "z")
	body := strings.TrimRight(t[1:], "Zz \t\n")
	if strings.ContainsAny(body, "MmlHhVvCcSsQqTtAaZz") {
		return d // several subpaths, or curves: not a polyline
	}
	pts := strings.Split(body, "L")
	if len(pts) <= max || max < 2 {
		return d
	}
	var b strings.Builder
	b.Grow(len(d) * max / len(pts))
	for i := range max {
		if i == 0 {
			b.WriteByte('M')
		} else {
			b.WriteByte('L')
		}
		b.WriteString(strings.TrimSpace(pts[i*(len(pts)-1)/(max-1)]))
	}
	if closed {
		b.WriteByte('Z')
	}
	return b.String()
}

// dataURI returns a data: URI of the given type holding b.
func dataURI(mime string, b []byte) string {
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b)
}

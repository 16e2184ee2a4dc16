package report

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

func testPNG(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.RGBA{0, 114, 178, 255})
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// bombPNG is a valid PNG header claiming a huge image, with no pixels.
func bombPNG() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestCleanPNG(t *testing.T) {
	good := testPNG(t, 40, 30)
	out := cleanPNG(good)
	require.NotNil(t, out)
	c, err := png.DecodeConfig(bytes.NewReader(out))
	require.NoError(t, err)
	assert.Equal(t, 40, c.Width)

	for name, b := range map[string][]byte{
		"empty":     nil,
		"html":      []byte("<html><script>alert(1)</script></html>"),
		"truncated": good[:len(good)/2],
		"huge":      bombPNG(),
		"too large": append(append([]byte{}, good...), make([]byte, maxPlotPNG)...),
	} {
		assert.Nil(t, cleanPNG(b), name)
	}
}

// TestMarkdownPlotFiles: report.md links each plot as a PNG named for
// its step and title, written beside it; a plot with no PNG (an older
// record) or a PNG that is not one falls back to its SVG.
func TestMarkdownPlotFiles(t *testing.T) {
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><path d="M0,0L1,1"/></svg>`
	r := &record.Run{Scenario: record.Scenario{Lang: "fr"}, Cells: []record.Cell{{Step: "validate", Outputs: []record.Output{
		{Kind: record.OutputPlot, Title: "Courbe précision-rappel", SVG: svg, PNG: testPNG(t, 20, 10)},
		{Kind: record.OutputPlot, Title: "Courbe précision-rappel", SVG: svg, PNG: testPNG(t, 20, 10)},
		{Kind: record.OutputPlot, Title: "Ancienne", SVG: svg},
		{Kind: record.OutputPlot, Title: "Fausse", SVG: svg, PNG: []byte("<script>")},
	}}}}
	var md bytes.Buffer
	files, err := Markdown(&md, r)
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
		if strings.HasSuffix(f.Name, ".png") {
			_, err := png.Decode(bytes.NewReader(f.Data))
			assert.NoError(t, err, f.Name)
		}
	}
	assert.Equal(t, []string{"plot-validate-courbe-precision-rappel.png", "plot-validate-courbe-precision-rappel-2.png", "plot-validate-3.svg", "plot-validate-4.svg"}, names)
	for _, n := range names {
		assert.Contains(t, md.String(), "]("+n+")")
	}
}

func TestFoldAccents(t *testing.T) {
	assert.Equal(t, "equite-par-groupe", slug(foldAccents("Équité par groupe")))
	assert.Equal(t, "coeur-a-ca", slug(foldAccents("Cœur à ça")))
}

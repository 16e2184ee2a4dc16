package churn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Three rows of the IBM Telco file, verbatim, and the header.
const (
	telcoHeader = "customerID,gender,SeniorCitizen,Partner,Dependents,tenure,PhoneService,MultipleLines,InternetService,OnlineSecurity,OnlineBackup,DeviceProtection,TechSupport,StreamingTV,StreamingMovies,Contract,PaperlessBilling,PaymentMethod,MonthlyCharges,TotalCharges,Churn"
	telcoRow1   = "7590-VHVEG,Female,0,Yes,No,1,No,No phone service,DSL,No,Yes,No,No,No,No,Month-to-month,Yes,Electronic check,29.85,29.85,No"
	telcoRow2   = "5575-GNVDE,Male,0,No,No,34,Yes,No,DSL,Yes,No,Yes,No,No,No,One year,No,Mailed check,56.95,1889.5,No"
	telcoRow3   = "3668-QPYBK,Male,0,No,No,2,Yes,No,DSL,Yes,Yes,No,No,No,No,Month-to-month,Yes,Mailed check,53.85,108.15,Yes"
	// A customer with tenure 0 and a blank TotalCharges, as in the file.
	telcoRowBlank = "4472-LVYGI,Female,0,Yes,Yes,0,No,No phone service,DSL,Yes,No,Yes,Yes,Yes,No,Two year,Yes,Bank transfer (automatic),52.55, ,No"
)

// csvText joins lines with "\n" and a final newline.
func csvText(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// withField returns row with field i replaced by v.
func withField(row string, i int, v string) string {
	f := strings.Split(row, ",")
	f[i] = v
	return strings.Join(f, ",")
}

// withoutField returns row without field i.
func withoutField(row string, i int) string {
	f := strings.Split(row, ",")
	return strings.Join(append(f[:i:i], f[i+1:]...), ",")
}

func TestLoadCSVReadsTheTelcoFormat(t *testing.T) {
	d, rep, err := LoadCSV(strings.NewReader(csvText(telcoHeader, telcoRow1, telcoRow2, telcoRow3, telcoRowBlank)), LoadOptions{Name: "t.csv"})
	require.NoError(t, err)
	require.Equal(t, 4, d.Len())
	assert.Equal(t, "t.csv", d.Name)
	assert.Equal(t, LoadReport{Name: "t.csv", Rows: 4, Churners: 1, BlankTotalCharges: 1}, *rep)

	want := validCustomer() // 7590-VHVEG
	assert.Equal(t, want, d.Customers[0])
	assert.Equal(t, Customer{
		CustomerID: "3668-QPYBK", Gender: Male, Partner: No, Dependents: No, Tenure: 2,
		PhoneService: Yes, MultipleLines: No, InternetService: InternetDSL, OnlineSecurity: Yes,
		OnlineBackup: Yes, DeviceProtection: No, TechSupport: No, StreamingTV: No, StreamingMovies: No,
		Contract: ContractMonthToMonth, PaperlessBilling: Yes, PaymentMethod: PaymentMailedCheck,
		MonthlyCharges: 53.85, TotalCharges: 108.15, Churn: true,
	}, d.Customers[2])
	assert.Equal(t, 0, d.Customers[3].Tenure)
	assert.Equal(t, 0.0, d.Customers[3].TotalCharges, "blank TotalCharges reads as 0")
	assert.Equal(t, []float64{0, 0, 1, 0}, d.Labels())
}

func TestLoadCSVAcceptedVariants(t *testing.T) {
	plain := csvText(telcoHeader, telcoRow1, telcoRow2)
	want, _, err := LoadCSV(strings.NewReader(plain), LoadOptions{Name: "t.csv"})
	require.NoError(t, err)

	// Columns in another order: move Churn first and customerID last.
	reorder := func(line string) string {
		f := strings.Split(line, ",")
		g := append([]string{f[20]}, f[1:20]...)
		return strings.Join(append(g, f[0]), ",")
	}
	tests := []struct {
		name string
		text string
	}{
		{"BOM", "\ufeff" + plain},
		{"CRLF", strings.ReplaceAll(plain, "\n", "\r\n")},
		{"BOMAndCRLF", "\ufeff" + strings.ReplaceAll(plain, "\n", "\r\n")},
		{"NoFinalNewline", strings.TrimSuffix(plain, "\n")},
		{"SpacesAroundValues", csvText(strings.ReplaceAll(telcoHeader, ",", " , "), strings.ReplaceAll(telcoRow1, ",", " ,  "), telcoRow2)},
		{"BlankLines", "\n" + csvText(telcoHeader, "", telcoRow1, "", "", telcoRow2)},
		{"ColumnsReordered", csvText(reorder(telcoHeader), reorder(telcoRow1), reorder(telcoRow2))},
		{"QuotedFields", csvText(telcoHeader, `"7590-VHVEG","Female",0,Yes,No,1,No,"No phone service",DSL,No,Yes,No,No,No,No,"Month-to-month",Yes,"Electronic check",29.85,"29.85",No`, telcoRow2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rep, err := LoadCSV(strings.NewReader(tt.text), LoadOptions{Name: "t.csv"})
			require.NoError(t, err)
			assert.Equal(t, want.Customers, got.Customers)
			assert.Equal(t, 2, rep.Rows)
		})
	}
}

func TestLoadCSVErrors(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		wantMsg string // the whole message
		line    int
		column  string
		is      error
	}{
		{
			name:    "EmptyFile",
			text:    "",
			wantMsg: "t.csv:1: empty file: want a header with the 21 Telco columns",
			line:    1, is: ErrEmptyFile,
		},
		{
			name:    "WrongHeader",
			text:    csvText(strings.Replace(telcoHeader, "gender", "sex", 1), telcoRow1),
			wantMsg: `t.csv:1: column "sex": bad header: unknown column (the schema has ` + strings.Join(Columns(), ", ") + ")",
			line:    1, column: "sex", is: ErrHeader,
		},
		{
			name:    "MissingColumn",
			text:    csvText(withoutField(telcoHeader, 5), withoutField(telcoRow1, 5)),
			wantMsg: `t.csv:1: column "tenure": bad header: missing column`,
			line:    1, column: "tenure", is: ErrHeader,
		},
		{
			name:    "DuplicateColumn",
			text:    csvText(telcoHeader+",tenure", telcoRow1+",3"),
			wantMsg: `t.csv:1: column "tenure": bad header: column appears twice`,
			line:    1, column: "tenure", is: ErrHeader,
		},
		{
			name:    "HeaderAfterBlankLines",
			text:    "\n\n" + csvText(strings.Replace(telcoHeader, "Churn", "Target", 1)),
			wantMsg: `t.csv:3: column "Target": bad header: unknown column (the schema has ` + strings.Join(Columns(), ", ") + ")",
			line:    3, column: "Target", is: ErrHeader,
		},
		{
			name:    "BadNumber",
			text:    csvText(telcoHeader, telcoRow1, withField(telcoRow2, 5, "abc")),
			wantMsg: `t.csv:3: column "tenure": "abc" is not a number`,
			line:    3, column: "tenure", is: ErrNotNumber,
		},
		{
			name:    "NotAnInteger",
			text:    csvText(telcoHeader, withField(telcoRow1, 5, "1.5")),
			wantMsg: `t.csv:2: column "tenure": "1.5" is not an integer`,
			line:    2, column: "tenure", is: ErrNotInteger,
		},
		{
			name:    "BadCharges",
			text:    csvText(telcoHeader, telcoRow1, telcoRow2, withField(telcoRow3, 18, "53.85€")),
			wantMsg: `t.csv:4: column "MonthlyCharges": "53.85€" is not a number`,
			line:    4, column: "MonthlyCharges", is: ErrNotNumber,
		},
		{
			name:    "NaNCharges",
			text:    csvText(telcoHeader, withField(telcoRow1, 19, "NaN")),
			wantMsg: `t.csv:2: column "TotalCharges": "NaN" is not finite`,
			line:    2, column: "TotalCharges", is: ErrNotFinite,
		},
		{
			name:    "NegativeTenure",
			text:    csvText(telcoHeader, withField(telcoRow1, 5, "-3")),
			wantMsg: `t.csv:2: column "tenure": "-3" is negative`,
			line:    2, column: "tenure", is: ErrNegative,
		},
		{
			name:    "UnknownCategory",
			text:    csvText(telcoHeader, telcoRow1, withField(telcoRow2, 15, "Monthly")),
			wantMsg: `t.csv:3: column "Contract": unknown category "Monthly" (want one of "Month-to-month", "One year", "Two year")`,
			line:    3, column: "Contract", is: ErrUnknownCategory,
		},
		{
			name:    "UnknownLabel",
			text:    csvText(telcoHeader, withField(telcoRow1, 20, "1")),
			wantMsg: `t.csv:2: column "Churn": unknown category "1" (want one of "No", "Yes")`,
			line:    2, column: "Churn", is: ErrUnknownCategory,
		},
		{
			name:    "BadSeniorCitizen",
			text:    csvText(telcoHeader, withField(telcoRow1, 2, "2")),
			wantMsg: `t.csv:2: column "SeniorCitizen": "2" is not 0 or 1`,
			line:    2, column: "SeniorCitizen", is: ErrNotFlag,
		},
		{
			name:    "BlankTotalChargesWithTenure",
			text:    csvText(telcoHeader, withField(telcoRow2, 19, " ")),
			wantMsg: `t.csv:2: column "TotalCharges": value is blank but tenure is 34 (a blank is accepted only for tenure 0)`,
			line:    2, column: "TotalCharges", is: ErrBlank,
		},
		{
			name:    "BlankID",
			text:    csvText(telcoHeader, withField(telcoRow1, 0, "  ")),
			wantMsg: `t.csv:2: column "customerID": value is blank`,
			line:    2, column: "customerID", is: ErrBlank,
		},
		{
			name:    "DuplicateID",
			text:    csvText(telcoHeader, telcoRow1, telcoRow2, withField(telcoRow3, 0, "7590-VHVEG")),
			wantMsg: `t.csv:4: column "customerID": duplicate customerID "7590-VHVEG" (first on line 2)`,
			line:    4, column: "customerID", is: ErrDuplicateID,
		},
		{
			name:    "RaggedRowShort",
			text:    csvText(telcoHeader, telcoRow1, telcoRow2, withoutField(telcoRow3, 7)),
			wantMsg: `t.csv:4: wrong number of fields: 20, want 21`,
			line:    4, is: ErrFieldCount,
		},
		{
			name:    "RaggedRowLong",
			text:    csvText(telcoHeader, telcoRow1+",extra"),
			wantMsg: `t.csv:2: wrong number of fields: 22, want 21`,
			line:    2, is: ErrFieldCount,
		},
		{
			// A quoted field spanning two lines: the error on the next
			// row is reported at its physical line, 4.
			name:    "PhysicalLineAfterMultilineField",
			text:    csvText(telcoHeader, withField(telcoRow1, 0, "\"7590\nVHVEG\""), withField(telcoRow2, 9, "Maybe")),
			wantMsg: `t.csv:4: column "OnlineSecurity": unknown category "Maybe" (want one of "No", "No internet service", "Yes")`,
			line:    4, column: "OnlineSecurity", is: ErrUnknownCategory,
		},
		{
			name:    "BareQuote",
			text:    csvText(telcoHeader, telcoRow1, withField(telcoRow2, 0, `55"75`)),
			wantMsg: `t.csv:3: bare " in non-quoted-field`,
			line:    3,
		},
		{
			name:    "LineNumbersCountBlankLines",
			text:    csvText(telcoHeader, "", telcoRow1, "", withField(telcoRow2, 1, "X")),
			wantMsg: `t.csv:5: column "gender": unknown category "X" (want one of "Female", "Male")`,
			line:    5, column: "gender", is: ErrUnknownCategory,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, rep, err := LoadCSV(strings.NewReader(tt.text), LoadOptions{Name: "t.csv"})
			require.Error(t, err)
			assert.Nil(t, d, "strict mode returns no partial dataset")
			assert.Nil(t, rep)
			assert.Equal(t, tt.wantMsg, err.Error())
			var ce *CSVError
			require.True(t, errors.As(err, &ce), "error is a *CSVError")
			assert.Equal(t, "t.csv", ce.File)
			assert.Equal(t, tt.line, ce.Line)
			assert.Equal(t, tt.column, ce.Column)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
		})
	}
}

func TestLoadCSVLenient(t *testing.T) {
	t.Run("SkipsAndCounts", func(t *testing.T) {
		text := csvText(telcoHeader,
			telcoRow1,
			withField(telcoRow2, 5, "abc"), // line 3
			withoutField(telcoRow3, 2),     // line 4
			telcoRowBlank,
			withField(telcoRow3, 0, "7590-VHVEG"), // line 6: duplicate
			telcoRow3,
		)
		d, rep, err := LoadCSV(strings.NewReader(text), LoadOptions{Name: "t.csv", Lenient: true})
		require.NoError(t, err)
		assert.Equal(t, 3, d.Len())
		assert.Equal(t, 3, rep.Rows)
		assert.Equal(t, 3, rep.Skipped)
		assert.Equal(t, 1, rep.BlankTotalCharges)
		assert.Equal(t, 1, rep.Churners)
		require.Len(t, rep.Problems, 3)
		var lines []int
		for _, p := range rep.Problems {
			lines = append(lines, p.Line)
		}
		assert.Equal(t, []int{3, 4, 6}, lines)
		assert.Equal(t, `t.csv:3: column "tenure": "abc" is not a number`, rep.Problems[0].Error())
	})
	t.Run("ReportsTheFirstFew", func(t *testing.T) {
		lines := []string{telcoHeader}
		for range 25 {
			lines = append(lines, withField(telcoRow1, 1, "?"))
		}
		lines = append(lines, telcoRow2)
		d, rep, err := LoadCSV(strings.NewReader(csvText(lines...)), LoadOptions{Lenient: true})
		require.NoError(t, err)
		assert.Equal(t, 1, d.Len())
		assert.Equal(t, 25, rep.Skipped)
		require.Len(t, rep.Problems, MaxReportedProblems)
		assert.Equal(t, 2, rep.Problems[0].Line)
		assert.Equal(t, "<csv>", rep.Problems[0].File)
	})
	t.Run("SkipsUnparsableLines", func(t *testing.T) {
		text := csvText(telcoHeader, withField(telcoRow1, 0, `75"90`), telcoRow2)
		d, rep, err := LoadCSV(strings.NewReader(text), LoadOptions{Name: "t.csv", Lenient: true})
		require.NoError(t, err)
		require.Equal(t, 1, d.Len())
		assert.Equal(t, "5575-GNVDE", d.Customers[0].CustomerID)
		require.Len(t, rep.Problems, 1)
		assert.Equal(t, `t.csv:2: bare " in non-quoted-field`, rep.Problems[0].Error())
	})
	t.Run("BadHeaderStillFails", func(t *testing.T) {
		_, _, err := LoadCSV(strings.NewReader(csvText(withoutField(telcoHeader, 0))), LoadOptions{Lenient: true})
		assert.ErrorIs(t, err, ErrHeader)
	})
	t.Run("ProblemsMarshalWithTheirMessage", func(t *testing.T) {
		_, rep, err := LoadCSV(strings.NewReader(csvText(telcoHeader, withField(telcoRow1, 5, "x"))), LoadOptions{Name: "t.csv", Lenient: true})
		require.NoError(t, err)
		b, err := jsonMarshalForTest(rep)
		require.NoError(t, err)
		assert.JSONEq(t, `{"name":"t.csv","rows":0,"churners":0,"blank_total_charges":0,"skipped":1,
			"problems":[{"file":"t.csv","line":2,"column":"tenure","message":"t.csv:2: column \"tenure\": \"x\" is not a number"}]}`, string(b))
	})
}

func TestWriteCSVRoundTrip(t *testing.T) {
	d := GenerateDataset(3000, 21)
	tenure0 := 0
	for _, c := range d.Customers {
		if c.Tenure == 0 {
			tenure0++
		}
	}
	require.Positive(t, tenure0, "the sample should hold customers with tenure 0")

	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, d))
	got, rep, err := LoadCSV(&buf, LoadOptions{Name: "gen.csv"})
	require.NoError(t, err)
	assert.Equal(t, d.Customers, got.Customers)
	assert.Equal(t, tenure0, rep.BlankTotalCharges)
}

func TestLoadCSVFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "telco.csv")
	require.NoError(t, os.WriteFile(path, []byte(csvText(telcoHeader, telcoRow1, withField(telcoRow2, 5, "abc"))), 0o644))
	t.Run("ErrorNamesThePath", func(t *testing.T) {
		_, _, err := LoadCSVFile(path, LoadOptions{})
		assert.EqualError(t, err, path+`:3: column "tenure": "abc" is not a number`)
	})
	t.Run("NameOverridesPath", func(t *testing.T) {
		_, _, err := LoadCSVFile(path, LoadOptions{Name: "telco.csv"})
		assert.EqualError(t, err, `telco.csv:3: column "tenure": "abc" is not a number`)
	})
	t.Run("Missing", func(t *testing.T) {
		_, _, err := LoadCSVFile(filepath.Join(dir, "nope.csv"), LoadOptions{})
		assert.ErrorIs(t, err, os.ErrNotExist)
		assert.Contains(t, err.Error(), "nope.csv")
	})
}

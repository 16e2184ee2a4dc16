package churn

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Column names of the Telco customer churn schema, in file order.
const (
	ColCustomerID       = "customerID"
	ColGender           = "gender"
	ColSeniorCitizen    = "SeniorCitizen"
	ColPartner          = "Partner"
	ColDependents       = "Dependents"
	ColTenure           = "tenure"
	ColPhoneService     = "PhoneService"
	ColMultipleLines    = "MultipleLines"
	ColInternetService  = "InternetService"
	ColOnlineSecurity   = "OnlineSecurity"
	ColOnlineBackup     = "OnlineBackup"
	ColDeviceProtection = "DeviceProtection"
	ColTechSupport      = "TechSupport"
	ColStreamingTV      = "StreamingTV"
	ColStreamingMovies  = "StreamingMovies"
	ColContract         = "Contract"
	ColPaperlessBilling = "PaperlessBilling"
	ColPaymentMethod    = "PaymentMethod"
	ColMonthlyCharges   = "MonthlyCharges"
	ColTotalCharges     = "TotalCharges"
	ColChurn            = "Churn"
)

// Category values, spelled exactly as in the IBM Telco file.
const (
	No  = "No"
	Yes = "Yes"

	Female = "Female"
	Male   = "Male"

	NoPhoneService    = "No phone service"
	NoInternetService = "No internet service"

	InternetDSL   = "DSL"
	InternetFiber = "Fiber optic"
	InternetNone  = "No"

	ContractMonthToMonth = "Month-to-month"
	ContractOneYear      = "One year"
	ContractTwoYear      = "Two year"

	PaymentBankTransfer    = "Bank transfer (automatic)"
	PaymentCreditCard      = "Credit card (automatic)"
	PaymentElectronicCheck = "Electronic check"
	PaymentMailedCheck     = "Mailed check"
)

// Protected attributes that [Dataset.Groups] and [FairnessOf] accept.
const (
	AttrGender        = ColGender
	AttrSeniorCitizen = ColSeniorCitizen
)

// Kind is the type of a column of the schema.
type Kind int

// The kinds of column.
const (
	KindID          Kind = iota // free text identifier (customerID)
	KindCategorical             // one of a fixed list of strings
	KindFlag                    // integer 0 or 1 (SeniorCitizen)
	KindInteger                 // non-negative integer (tenure, months)
	KindNumber                  // non-negative finite float (charges)
	KindLabel                   // the target: "Yes" (churned) or "No"
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindID:
		return "id"
	case KindCategorical:
		return "categorical"
	case KindFlag:
		return "flag"
	case KindInteger:
		return "integer"
	case KindNumber:
		return "number"
	case KindLabel:
		return "label"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Column describes one column of the schema.
type Column struct {
	Name string
	Kind Kind
	// Categories lists the allowed values of a categorical or label column,
	// sorted; nil for other kinds.
	Categories []string
}

var (
	yesNo          = []string{No, Yes}
	genders        = []string{Female, Male}
	multipleLines  = []string{No, NoPhoneService, Yes}
	internetAddOn  = []string{No, NoInternetService, Yes}
	internetValues = []string{InternetDSL, InternetFiber, InternetNone}
	contracts      = []string{ContractMonthToMonth, ContractOneYear, ContractTwoYear}
	payments       = []string{PaymentBankTransfer, PaymentCreditCard, PaymentElectronicCheck, PaymentMailedCheck}
)

// schema is the 21 columns in file order; the index of a column here is the
// column number used by Customer's accessors.
var schema = []Column{
	{ColCustomerID, KindID, nil},
	{ColGender, KindCategorical, genders},
	{ColSeniorCitizen, KindFlag, nil},
	{ColPartner, KindCategorical, yesNo},
	{ColDependents, KindCategorical, yesNo},
	{ColTenure, KindInteger, nil},
	{ColPhoneService, KindCategorical, yesNo},
	{ColMultipleLines, KindCategorical, multipleLines},
	{ColInternetService, KindCategorical, internetValues},
	{ColOnlineSecurity, KindCategorical, internetAddOn},
	{ColOnlineBackup, KindCategorical, internetAddOn},
	{ColDeviceProtection, KindCategorical, internetAddOn},
	{ColTechSupport, KindCategorical, internetAddOn},
	{ColStreamingTV, KindCategorical, internetAddOn},
	{ColStreamingMovies, KindCategorical, internetAddOn},
	{ColContract, KindCategorical, contracts},
	{ColPaperlessBilling, KindCategorical, yesNo},
	{ColPaymentMethod, KindCategorical, payments},
	{ColMonthlyCharges, KindNumber, nil},
	{ColTotalCharges, KindNumber, nil},
	{ColChurn, KindLabel, yesNo},
}

// Column numbers in schema order.
const (
	colCustomerID = iota
	colGender
	colSeniorCitizen
	colPartner
	colDependents
	colTenure
	colPhoneService
	colMultipleLines
	colInternetService
	colOnlineSecurity
	colOnlineBackup
	colDeviceProtection
	colTechSupport
	colStreamingTV
	colStreamingMovies
	colContract
	colPaperlessBilling
	colPaymentMethod
	colMonthlyCharges
	colTotalCharges
	colChurn
	numColumns
)

// Schema returns the 21 columns of the Telco customer churn file, in file
// order. The result is a copy: changing it changes nothing in the package.
func Schema() []Column {
	out := make([]Column, len(schema))
	for i, c := range schema {
		out[i] = Column{Name: c.Name, Kind: c.Kind, Categories: slices.Clone(c.Categories)}
	}
	return out
}

// Columns returns the 21 column names in file order.
func Columns() []string {
	out := make([]string, len(schema))
	for i, c := range schema {
		out[i] = c.Name
	}
	return out
}

// FeatureColumns returns the 19 columns a model reads: every column but
// customerID and Churn, in file order. They are the inputs of the model's
// MLflow signature.
func FeatureColumns() []string {
	out := make([]string, 0, len(schema)-2)
	for _, c := range schema {
		if c.Kind != KindID && c.Kind != KindLabel {
			out = append(out, c.Name)
		}
	}
	return out
}

// Categories returns the allowed values of a categorical column (or of
// Churn), sorted, as they are spelled in the Telco file: for example
// Categories("MultipleLines") is ["No", "No phone service", "Yes"]. It returns
// nil for a column that is not categorical or not in the schema.
func Categories(column string) []string {
	i := columnIndex(column)
	if i < 0 {
		return nil
	}
	return slices.Clone(schema[i].Categories)
}

// columnIndex returns the column number of name, or -1.
func columnIndex(name string) int {
	for i, c := range schema {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Customer is one row of the Telco customer churn file. Categorical fields
// hold the file's spelling (see [Categories]); JSON field names are the
// column names.
type Customer struct {
	CustomerID       string  `json:"customerID"`
	Gender           string  `json:"gender"`
	SeniorCitizen    int     `json:"SeniorCitizen"`
	Partner          string  `json:"Partner"`
	Dependents       string  `json:"Dependents"`
	Tenure           int     `json:"tenure"`
	PhoneService     string  `json:"PhoneService"`
	MultipleLines    string  `json:"MultipleLines"`
	InternetService  string  `json:"InternetService"`
	OnlineSecurity   string  `json:"OnlineSecurity"`
	OnlineBackup     string  `json:"OnlineBackup"`
	DeviceProtection string  `json:"DeviceProtection"`
	TechSupport      string  `json:"TechSupport"`
	StreamingTV      string  `json:"StreamingTV"`
	StreamingMovies  string  `json:"StreamingMovies"`
	Contract         string  `json:"Contract"`
	PaperlessBilling string  `json:"PaperlessBilling"`
	PaymentMethod    string  `json:"PaymentMethod"`
	MonthlyCharges   float64 `json:"MonthlyCharges"`
	TotalCharges     float64 `json:"TotalCharges"`
	// Churn is true when the customer left ("Yes" in the file).
	Churn bool `json:"Churn"`
}

// str returns a pointer to the string field of column col, or nil when the
// column is not held as a string.
func (c *Customer) str(col int) *string {
	switch col {
	case colCustomerID:
		return &c.CustomerID
	case colGender:
		return &c.Gender
	case colPartner:
		return &c.Partner
	case colDependents:
		return &c.Dependents
	case colPhoneService:
		return &c.PhoneService
	case colMultipleLines:
		return &c.MultipleLines
	case colInternetService:
		return &c.InternetService
	case colOnlineSecurity:
		return &c.OnlineSecurity
	case colOnlineBackup:
		return &c.OnlineBackup
	case colDeviceProtection:
		return &c.DeviceProtection
	case colTechSupport:
		return &c.TechSupport
	case colStreamingTV:
		return &c.StreamingTV
	case colStreamingMovies:
		return &c.StreamingMovies
	case colContract:
		return &c.Contract
	case colPaperlessBilling:
		return &c.PaperlessBilling
	case colPaymentMethod:
		return &c.PaymentMethod
	}
	return nil
}

// text returns the value of column col as the Telco file spells it. A blank
// TotalCharges is never produced here: see WriteCSV.
func (c *Customer) text(col int) string {
	if p := c.str(col); p != nil {
		return *p
	}
	switch col {
	case colSeniorCitizen:
		return strconv.Itoa(c.SeniorCitizen)
	case colTenure:
		return strconv.Itoa(c.Tenure)
	case colMonthlyCharges:
		return strconv.FormatFloat(c.MonthlyCharges, 'f', -1, 64)
	case colTotalCharges:
		return strconv.FormatFloat(c.TotalCharges, 'f', -1, 64)
	case colChurn:
		if c.Churn {
			return Yes
		}
		return No
	}
	panic("churn: column number out of range: " + strconv.Itoa(col))
}

// Validate checks every field against the schema: categories spelled as in
// the file, SeniorCitizen 0 or 1, tenure and charges non-negative and finite.
// The error names the first bad column.
func (c Customer) Validate() error {
	for col, s := range schema {
		var err error
		switch s.Kind {
		case KindCategorical:
			err = checkCategory(s, *c.str(col))
		case KindFlag:
			if c.SeniorCitizen != 0 && c.SeniorCitizen != 1 {
				err = fmt.Errorf("%d: %w", c.SeniorCitizen, ErrNotFlag)
			}
		case KindInteger:
			if c.Tenure < 0 {
				err = fmt.Errorf("%d: %w", c.Tenure, ErrNegative)
			}
		case KindNumber:
			v := c.MonthlyCharges
			if col == colTotalCharges {
				v = c.TotalCharges
			}
			if e := checkNumber(v); e != nil {
				err = fmt.Errorf("%v %w", v, e)
			}
		}
		if err != nil {
			return &FieldError{Column: s.Name, Err: err}
		}
	}
	return nil
}

// FieldError is an invalid value in a named column of a customer.
type FieldError struct {
	Column string
	Err    error
}

func (e *FieldError) Error() string { return fmt.Sprintf("column %q: %v", e.Column, e.Err) }

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// checkCategory returns an error wrapping ErrUnknownCategory unless v is one
// of the column's categories.
func checkCategory(s Column, v string) error {
	if slices.Contains(s.Categories, v) {
		return nil
	}
	quoted := make([]string, len(s.Categories))
	for i, c := range s.Categories {
		quoted[i] = strconv.Quote(c)
	}
	return fmt.Errorf("%w %q (want one of %s)", ErrUnknownCategory, v, strings.Join(quoted, ", "))
}

// Dataset is a list of customers, in file (or generation) order.
type Dataset struct {
	// Name says where the rows come from (a file name, "generated"); it is
	// used in messages only.
	Name      string
	Customers []Customer
}

// Len returns the number of customers.
func (d *Dataset) Len() int { return len(d.Customers) }

// Labels returns the target of each customer: 1 for churn, 0 otherwise.
func (d *Dataset) Labels() []float64 {
	y := make([]float64, len(d.Customers))
	for i := range d.Customers {
		if d.Customers[i].Churn {
			y[i] = 1
		}
	}
	return y
}

// ChurnRate returns the fraction of customers who churned (NaN when empty).
func (d *Dataset) ChurnRate() float64 {
	n := 0
	for i := range d.Customers {
		if d.Customers[i].Churn {
			n++
		}
	}
	return float64(n) / float64(len(d.Customers))
}

// Groups returns the value of a protected attribute for each customer, as the
// file spells it: "Female"/"Male" for "gender", "0"/"1" for "SeniorCitizen".
// Other attributes are an error.
func (d *Dataset) Groups(attr string) ([]string, error) {
	g := make([]string, len(d.Customers))
	switch attr {
	case AttrGender:
		for i := range d.Customers {
			g[i] = d.Customers[i].Gender
		}
	case AttrSeniorCitizen:
		for i := range d.Customers {
			if d.Customers[i].SeniorCitizen == 1 {
				g[i] = "1"
			} else {
				g[i] = "0"
			}
		}
	default:
		return nil, fmt.Errorf("churn: unknown protected attribute %q (want %q or %q)", attr, AttrGender, AttrSeniorCitizen)
	}
	return g, nil
}

// Subset returns a dataset holding the customers at the given indices, in
// that order. It shares no memory with d.
func (d *Dataset) Subset(indices []int) *Dataset {
	out := &Dataset{Name: d.Name, Customers: make([]Customer, len(indices))}
	for i, j := range indices {
		out.Customers[i] = d.Customers[j]
	}
	return out
}

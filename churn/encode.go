package churn

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// Encoder turns customers into feature vectors. Its fields are exported so
// that it serialises to JSON as part of a model; build it with [FitEncoder].
//
// Features, in order:
//   - tenure, MonthlyCharges, TotalCharges, standardised: (x − mean) / std,
//     with the mean and population standard deviation of the training set
//     (a constant column gets std 1);
//   - SeniorCitizen, as is (0 or 1);
//   - one indicator per category seen in training, for each of the 15
//     categorical columns in schema order, categories in sorted order
//     (names like "Contract=Month-to-month").
//
// A category not seen in training (or not in the schema) encodes as all
// zeros in its column's indicators: the model then scores the customer as if
// that column contributed nothing, rather than failing.
type Encoder struct {
	Numeric     []NumericFeature     `json:"numeric"`
	Flags       []string             `json:"flags"`
	Categorical []CategoricalFeature `json:"categorical"`
}

// NumericFeature is a standardised numeric column.
type NumericFeature struct {
	Column string  `json:"column"`
	Mean   float64 `json:"mean"`
	Std    float64 `json:"std"`
}

// CategoricalFeature is a one-hot encoded categorical column.
type CategoricalFeature struct {
	Column     string   `json:"column"`
	Categories []string `json:"categories"`
}

// FitEncoder learns the encoding from a training set: means and standard
// deviations of the numeric columns, and the categories present in each
// categorical column.
func FitEncoder(train *Dataset) *Encoder {
	e := &Encoder{}
	x := make([]float64, len(train.Customers))
	for col, s := range schema {
		switch s.Kind {
		case KindInteger, KindNumber:
			for i := range train.Customers {
				x[i] = numericValue(&train.Customers[i], col)
			}
			mean, std := 0.0, 1.0
			if len(x) > 0 {
				mean, std = stat.PopMeanStdDev(x, nil)
			}
			if !(std > 0) || math.IsInf(std, 0) {
				std = 1
			}
			e.Numeric = append(e.Numeric, NumericFeature{Column: s.Name, Mean: mean, Std: std})
		case KindFlag:
			e.Flags = append(e.Flags, s.Name)
		case KindCategorical:
			seen := make([]bool, len(s.Categories))
			for i := range train.Customers {
				if k := slices.Index(s.Categories, *train.Customers[i].str(col)); k >= 0 {
					seen[k] = true
				}
			}
			f := CategoricalFeature{Column: s.Name, Categories: []string{}}
			for k, ok := range seen {
				if ok {
					f.Categories = append(f.Categories, s.Categories[k])
				}
			}
			e.Categorical = append(e.Categorical, f)
		}
	}
	return e
}

// numericValue returns the numeric or flag column col of c.
func numericValue(c *Customer, col int) float64 {
	switch col {
	case colTenure:
		return float64(c.Tenure)
	case colMonthlyCharges:
		return c.MonthlyCharges
	case colTotalCharges:
		return c.TotalCharges
	case colSeniorCitizen:
		return float64(c.SeniorCitizen)
	}
	panic("churn: column is not numeric: " + schema[col].Name)
}

// NumFeatures returns the length of an encoded customer.
func (e *Encoder) NumFeatures() int {
	n := len(e.Numeric) + len(e.Flags)
	for _, f := range e.Categorical {
		n += len(f.Categories)
	}
	return n
}

// FeatureNames returns the name of each feature, in order: the column name
// for numeric and flag features, "column=category" for indicators.
func (e *Encoder) FeatureNames() []string {
	names := make([]string, 0, e.NumFeatures())
	for _, f := range e.Numeric {
		names = append(names, f.Column)
	}
	names = append(names, e.Flags...)
	for _, f := range e.Categorical {
		for _, c := range f.Categories {
			names = append(names, f.Column+"="+c)
		}
	}
	return names
}

// TransformOne encodes one customer.
func (e *Encoder) TransformOne(c Customer) []float64 {
	x := make([]float64, e.NumFeatures())
	e.encodeInto(&c, e.columns(), x)
	return x
}

// Transform encodes every customer of d, one row each. An empty dataset
// gives an empty matrix (IsEmpty reports true).
func (e *Encoder) Transform(d *Dataset) *mat.Dense {
	n, p := len(d.Customers), e.NumFeatures()
	if n == 0 || p == 0 {
		return &mat.Dense{}
	}
	data := make([]float64, n*p)
	cols := e.columns()
	for i := range d.Customers {
		e.encodeInto(&d.Customers[i], cols, data[i*p:(i+1)*p])
	}
	return mat.NewDense(n, p, data)
}

// columns returns the column number of each encoded column, in the order
// numeric, flags, categorical: the plan that encodeInto follows.
func (e *Encoder) columns() []int {
	cols := make([]int, 0, len(e.Numeric)+len(e.Flags)+len(e.Categorical))
	for _, f := range e.Numeric {
		cols = append(cols, columnIndex(f.Column))
	}
	for _, name := range e.Flags {
		cols = append(cols, columnIndex(name))
	}
	for _, f := range e.Categorical {
		cols = append(cols, columnIndex(f.Column))
	}
	return cols
}

// encodeInto writes the features of c to dst (len NumFeatures, any content);
// cols is e.columns().
func (e *Encoder) encodeInto(c *Customer, cols []int, dst []float64) {
	k, j := 0, 0
	for _, f := range e.Numeric {
		dst[k] = (numericValue(c, cols[j]) - f.Mean) / f.Std
		k++
		j++
	}
	for range e.Flags {
		dst[k] = numericValue(c, cols[j])
		k++
		j++
	}
	for _, f := range e.Categorical {
		v := *c.str(cols[j])
		j++
		for _, cat := range f.Categories {
			if v == cat {
				dst[k] = 1
			} else {
				dst[k] = 0
			}
			k++
		}
	}
}

// validate checks an encoder read from a file: known columns of the right
// kind, each once; known, distinct categories; finite means; positive finite
// standard deviations.
func (e *Encoder) validate() error {
	used := make(map[string]bool)
	use := func(name string, kinds ...Kind) error {
		i := columnIndex(name)
		if i < 0 || !slices.Contains(kinds, schema[i].Kind) {
			return fmt.Errorf("encoder: column %q is not a %v column of the schema", name, kinds[0])
		}
		if used[name] {
			return fmt.Errorf("encoder: column %q is encoded twice", name)
		}
		used[name] = true
		return nil
	}
	for _, f := range e.Numeric {
		if err := use(f.Column, KindNumber, KindInteger); err != nil {
			return err
		}
		if math.IsNaN(f.Mean) || math.IsInf(f.Mean, 0) || !(f.Std > 0) || math.IsInf(f.Std, 0) {
			return fmt.Errorf("encoder: column %q: bad mean %v or std %v", f.Column, f.Mean, f.Std)
		}
	}
	for _, name := range e.Flags {
		if err := use(name, KindFlag); err != nil {
			return err
		}
	}
	for _, f := range e.Categorical {
		if err := use(f.Column, KindCategorical); err != nil {
			return err
		}
		s := schema[columnIndex(f.Column)]
		for j, c := range f.Categories {
			if !slices.Contains(s.Categories, c) {
				return fmt.Errorf("encoder: column %q: unknown category %q", f.Column, c)
			}
			if slices.Contains(f.Categories[:j], c) {
				return fmt.Errorf("encoder: column %q: category %q appears twice", f.Column, c)
			}
		}
	}
	return nil
}

package churn

import (
	"errors"
	"math"
)

// Errors that the package's errors wrap; test for them with errors.Is.
var (
	// ErrOneClass: ROC AUC (and the ROC curve's rates) are undefined when
	// the labels hold one class only.
	ErrOneClass = errors.New("churn: ROC AUC is undefined: the labels hold one class only")
	// ErrEmpty: a metric of no rows.
	ErrEmpty = errors.New("churn: no rows")
	// ErrLength: slices that should be parallel have different lengths.
	ErrLength = errors.New("churn: length mismatch")
	// ErrLabel: a label other than 0 or 1.
	ErrLabel = errors.New("churn: label is not 0 or 1")
	// ErrScore: a score that is NaN, infinite, or (for probabilities) outside [0, 1].
	ErrScore = errors.New("churn: bad score")

	// ErrNotFitted: a model without encoder or coefficients.
	ErrNotFitted = errors.New("churn: model is not fitted")

	// Errors about one field or line of a CSV file, found inside a
	// [*CSVError] or [*FieldError], which say where: their messages are
	// phrased to follow a quoted value.

	// ErrNotNumber: a field that does not parse as a number.
	ErrNotNumber = errors.New("is not a number")
	// ErrNotInteger: a field that does not parse as an integer.
	ErrNotInteger = errors.New("is not an integer")
	// ErrNotFlag: SeniorCitizen other than 0 or 1.
	ErrNotFlag = errors.New("is not 0 or 1")
	// ErrNegative: a negative tenure or charge.
	ErrNegative = errors.New("is negative")
	// ErrNotFinite: NaN or an infinite charge.
	ErrNotFinite = errors.New("is not finite")
	// ErrUnknownCategory: a value that is not one of the column's categories.
	ErrUnknownCategory = errors.New("unknown category")
	// ErrBlank: a required field is blank.
	ErrBlank = errors.New("is blank")
	// ErrFieldCount: a row whose number of fields differs from the header's.
	ErrFieldCount = errors.New("wrong number of fields")
	// ErrDuplicateID: a customerID seen on an earlier row.
	ErrDuplicateID = errors.New("duplicate customerID")
	// ErrEmptyFile: a CSV file without even a header.
	ErrEmptyFile = errors.New("empty file: want a header with the 21 Telco columns")
	// ErrHeader: a header that does not match the schema (missing, unknown
	// or repeated column).
	ErrHeader = errors.New("bad header")
)

// checkNumber returns ErrNotFinite or ErrNegative unless v is finite and
// non-negative.
func checkNumber(v float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return ErrNotFinite
	case v < 0:
		return ErrNegative
	}
	return nil
}

package churn

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSchemaColumnsInFileOrder(t *testing.T) {
	want := strings.Split("customerID,gender,SeniorCitizen,Partner,Dependents,tenure,PhoneService,"+
		"MultipleLines,InternetService,OnlineSecurity,OnlineBackup,DeviceProtection,TechSupport,"+
		"StreamingTV,StreamingMovies,Contract,PaperlessBilling,PaymentMethod,MonthlyCharges,TotalCharges,Churn", ",")
	assert.Equal(t, want, Columns())
	require.Len(t, Schema(), 21)
	assert.Len(t, FeatureColumns(), 19)
	assert.NotContains(t, FeatureColumns(), ColCustomerID)
	assert.NotContains(t, FeatureColumns(), ColChurn)
}

func TestCustomerJSONTagsAreColumnNames(t *testing.T) {
	typ := reflect.TypeFor[Customer]()
	require.Equal(t, len(Columns()), typ.NumField())
	for i, col := range Columns() {
		assert.Equal(t, col, typ.Field(i).Tag.Get("json"), "field %s", typ.Field(i).Name)
	}
}

func TestCategories(t *testing.T) {
	tests := []struct {
		column string
		want   []string
	}{
		{"gender", []string{"Female", "Male"}},
		{"Partner", []string{"No", "Yes"}},
		{"MultipleLines", []string{"No", "No phone service", "Yes"}},
		{"InternetService", []string{"DSL", "Fiber optic", "No"}},
		{"OnlineSecurity", []string{"No", "No internet service", "Yes"}},
		{"StreamingMovies", []string{"No", "No internet service", "Yes"}},
		{"Contract", []string{"Month-to-month", "One year", "Two year"}},
		{"PaymentMethod", []string{"Bank transfer (automatic)", "Credit card (automatic)", "Electronic check", "Mailed check"}},
		{"Churn", []string{"No", "Yes"}},
		{"tenure", nil},
		{"nope", nil},
	}
	for _, tt := range tests {
		t.Run(tt.column, func(t *testing.T) {
			assert.Equal(t, tt.want, Categories(tt.column))
		})
	}
	t.Run("CopyIsIndependent", func(t *testing.T) {
		c := Categories("gender")
		c[0] = "changed"
		assert.Equal(t, "Female", Categories("gender")[0])
	})
}

// validCustomer returns a customer that passes Validate.
func validCustomer() Customer {
	return Customer{
		CustomerID: "7590-VHVEG", Gender: Female, SeniorCitizen: 0, Partner: Yes, Dependents: No,
		Tenure: 1, PhoneService: No, MultipleLines: NoPhoneService, InternetService: InternetDSL,
		OnlineSecurity: No, OnlineBackup: Yes, DeviceProtection: No, TechSupport: No,
		StreamingTV: No, StreamingMovies: No, Contract: ContractMonthToMonth, PaperlessBilling: Yes,
		PaymentMethod: PaymentElectronicCheck, MonthlyCharges: 29.85, TotalCharges: 29.85,
	}
}

func TestCustomerValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Customer)
		column  string
		wantErr error
	}{
		{"OK", func(*Customer) {}, "", nil},
		{"ErrUnknownCategory", func(c *Customer) { c.Contract = "Monthly" }, "Contract", ErrUnknownCategory},
		{"ErrCaseMatters", func(c *Customer) { c.Gender = "male" }, "gender", ErrUnknownCategory},
		{"ErrNotFlag", func(c *Customer) { c.SeniorCitizen = 2 }, "SeniorCitizen", ErrNotFlag},
		{"ErrNegativeTenure", func(c *Customer) { c.Tenure = -1 }, "tenure", ErrNegative},
		{"ErrNegativeCharges", func(c *Customer) { c.MonthlyCharges = -3 }, "MonthlyCharges", ErrNegative},
		{"ErrNaNTotal", func(c *Customer) { c.TotalCharges = nan() }, "TotalCharges", ErrNotFinite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validCustomer()
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			var fe *FieldError
			require.True(t, errors.As(err, &fe))
			assert.Equal(t, tt.column, fe.Column)
			assert.Contains(t, err.Error(), `column "`+tt.column+`"`)
		})
	}
}

func TestDatasetLabelsAndGroups(t *testing.T) {
	a, b, c := validCustomer(), validCustomer(), validCustomer()
	b.Churn, b.Gender, b.SeniorCitizen = true, Male, 1
	c.Churn = true
	d := &Dataset{Customers: []Customer{a, b, c}}

	assert.Equal(t, []float64{0, 1, 1}, d.Labels())
	assert.InDelta(t, 2.0/3, d.ChurnRate(), 1e-15)

	tests := []struct {
		attr string
		want []string
	}{
		{"gender", []string{"Female", "Male", "Female"}},
		{"SeniorCitizen", []string{"0", "1", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.attr, func(t *testing.T) {
			got, err := d.Groups(tt.attr)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("ErrUnknownAttribute", func(t *testing.T) {
		_, err := d.Groups("Partner")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"Partner"`)
	})
	t.Run("Subset", func(t *testing.T) {
		s := d.Subset([]int{2, 0})
		require.Equal(t, 2, s.Len())
		assert.Equal(t, []float64{1, 0}, s.Labels())
		s.Customers[0].Gender = Male
		assert.Equal(t, Female, d.Customers[2].Gender, "Subset must copy")
	})
}

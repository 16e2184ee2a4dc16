package churn

import (
	"fmt"
	"math"
)

// Coefficients of the ground-truth logistic model that [Generate] draws the
// Churn label from (log-odds; see [GroundTruthLogit]).
const (
	truthIntercept        = -1.33
	truthMonthToMonth     = +1.10 // Contract "Month-to-month"
	truthTwoYear          = -1.00 // Contract "Two year" (reference: "One year")
	truthFiber            = +0.90 // InternetService "Fiber optic" (reference: "DSL")
	truthNoInternet       = -0.70 // InternetService "No"
	truthElectronicCheck  = +0.50 // PaymentMethod "Electronic check"
	truthPaperless        = +0.30 // PaperlessBilling "Yes"
	truthOnlineSecurity   = -0.40 // OnlineSecurity "Yes"
	truthTechSupport      = -0.40 // TechSupport "Yes"
	truthDependents       = -0.20 // Dependents "Yes"
	truthSeniorCitizen    = +0.40 // SeniorCitizen 1: the protected-attribute effect
	truthTenurePerMonth   = -0.03 // per month of tenure
	generatedTenure0Prob  = 0.0016
	generatedNameTemplate = "generated(n=%d, seed=%d)"
)

// GroundTruthLogit returns the log-odds of churn that [Generate] uses for c:
//
//	logit P(churn) = -1.33
//	               + 1.10 [Contract = Month-to-month]  - 1.00 [Contract = Two year]
//	               + 0.90 [InternetService = Fiber optic] - 0.70 [InternetService = No]
//	               + 0.50 [PaymentMethod = Electronic check]
//	               + 0.30 [PaperlessBilling = Yes]
//	               - 0.40 [OnlineSecurity = Yes] - 0.40 [TechSupport = Yes]
//	               - 0.20 [Dependents = Yes]
//	               + 0.40 [SeniorCitizen = 1]
//	               - 0.03 × tenure (months)
//
// Gender has no effect. SeniorCitizen has a direct effect of +0.40 log-odds
// (a churn odds ratio of about 1.5), so that fairness checks by
// SeniorCitizen have a real disparity to find while checks by gender should
// find little.
func GroundTruthLogit(c Customer) float64 {
	z := truthIntercept + truthTenurePerMonth*float64(c.Tenure)
	switch c.Contract {
	case ContractMonthToMonth:
		z += truthMonthToMonth
	case ContractTwoYear:
		z += truthTwoYear
	}
	switch c.InternetService {
	case InternetFiber:
		z += truthFiber
	case InternetNone:
		z += truthNoInternet
	}
	if c.PaymentMethod == PaymentElectronicCheck {
		z += truthElectronicCheck
	}
	if c.PaperlessBilling == Yes {
		z += truthPaperless
	}
	if c.OnlineSecurity == Yes {
		z += truthOnlineSecurity
	}
	if c.TechSupport == Yes {
		z += truthTechSupport
	}
	if c.Dependents == Yes {
		z += truthDependents
	}
	if c.SeniorCitizen == 1 {
		z += truthSeniorCitizen
	}
	return z
}

// Generate returns n synthetic customers in the Telco schema, drawn from a
// generator seeded by seed: the same (n, seed) gives the same customers on
// every platform, and the first k customers of Generate(n, seed) do not
// depend on n.
//
// Frequencies follow the real file: about 50 % male, 16 % senior, 48 % with
// a partner, 90 % with phone service, 44 % fiber optic and 22 % without
// internet, 55 % month-to-month contracts, 34 % paying by electronic check.
// Tenure (0 to 72 months) depends on the contract: short for month-to-month,
// long for two-year contracts; about 0.16 % of customers are new (tenure 0).
// MonthlyCharges is the sum of the prices of the customer's services plus
// noise, rounded to 0.05 (from about 18 to 120). TotalCharges is 0 when
// tenure is 0 (the file leaves it blank: see [LoadCSV]), MonthlyCharges when
// tenure is 1, and tenure × MonthlyCharges × (1 + 4 % noise), rounded to
// cents, otherwise. Customer IDs look like the file's ("7590-VHVEG") and are
// unique. Churn is drawn from the logistic model of [GroundTruthLogit]; the
// churn rate is about 26 %, as in the real file.
func Generate(n int, seed uint64) []Customer {
	if n <= 0 {
		return []Customer{}
	}
	r := newRNG(seed, 1)
	out := make([]Customer, n)
	seen := make(map[string]struct{}, n)
	for i := range out {
		c := &out[i]
		c.CustomerID = newCustomerID(r, seen)
		generateCustomer(r, c)
		c.Churn = r.float() < sigmoid(GroundTruthLogit(*c))
	}
	return out
}

// GenerateDataset returns Generate(n, seed) as a named dataset.
func GenerateDataset(n int, seed uint64) *Dataset {
	return &Dataset{Name: fmt.Sprintf(generatedNameTemplate, n, seed), Customers: Generate(n, seed)}
}

// newCustomerID draws an ID like "7590-VHVEG" that is not in seen, and adds it.
func newCustomerID(r rng, seen map[string]struct{}) string {
	var b [10]byte
	for {
		for j := range 4 {
			b[j] = byte('0' + r.intn(10))
		}
		b[4] = '-'
		for j := 5; j < 10; j++ {
			b[j] = byte('A' + r.intn(26))
		}
		id := string(b[:])
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			return id
		}
	}
}

var (
	contractWeights = []float64{0.55, 0.21, 0.24}
	internetWeights = []float64{0.34, 0.44, 0.22} // DSL, Fiber optic, No
	paymentWeights  = []float64{0.22, 0.21, 0.34, 0.23}
	// Probability of "Yes" for each add-on, given internet service, in the
	// order security, backup, device protection, tech support, TV, movies.
	addOnYes   = [6]float64{0.37, 0.44, 0.44, 0.37, 0.49, 0.50}
	addOnPrice = [6]float64{5, 5, 5, 5, 10, 10}
)

// generateCustomer draws every field of c but the ID and the label.
func generateCustomer(r rng, c *Customer) {
	c.Gender = Female
	if r.bernoulli(0.505) {
		c.Gender = Male
	}
	if r.bernoulli(0.162) {
		c.SeniorCitizen = 1
	}
	c.Partner = yesNoDraw(r, 0.483)
	if c.Partner == Yes {
		c.Dependents = yesNoDraw(r, 0.50)
	} else {
		c.Dependents = yesNoDraw(r, 0.10)
	}
	c.Contract = r.choice(contracts, contractWeights)
	c.Tenure = drawTenure(r, c.Contract)

	price := 0.0
	c.PhoneService = yesNoDraw(r, 0.903)
	if c.PhoneService == Yes {
		price += 20
		c.MultipleLines = yesNoDraw(r, 0.467)
		if c.MultipleLines == Yes {
			price += 5
		}
	} else {
		c.MultipleLines = NoPhoneService
	}
	c.InternetService = r.choice(internetValues, internetWeights)
	addOns := [6]*string{&c.OnlineSecurity, &c.OnlineBackup, &c.DeviceProtection, &c.TechSupport, &c.StreamingTV, &c.StreamingMovies}
	switch c.InternetService {
	case InternetNone:
		for _, p := range addOns {
			*p = NoInternetService
		}
	default:
		if c.InternetService == InternetFiber {
			price += 50
		} else {
			price += 25
		}
		for k, p := range addOns {
			*p = yesNoDraw(r, addOnYes[k])
			if *p == Yes {
				price += addOnPrice[k]
			}
		}
	}
	c.PaperlessBilling = yesNoDraw(r, 0.592)
	c.PaymentMethod = r.choice(payments, paymentWeights)

	monthly := math.Round((price+1.5*r.normal())*20) / 20
	c.MonthlyCharges = math.Max(monthly, 18.25)
	switch c.Tenure {
	case 0:
		c.TotalCharges = 0
	case 1:
		c.TotalCharges = c.MonthlyCharges
	default:
		total := float64(c.Tenure) * c.MonthlyCharges * (1 + 0.04*r.normal())
		c.TotalCharges = math.Max(math.Round(total*100)/100, c.MonthlyCharges)
	}
}

// drawTenure draws a tenure in months (0 to 72) for a contract.
func drawTenure(r rng, contract string) int {
	if r.bernoulli(generatedTenure0Prob) {
		return 0
	}
	var t float64
	switch contract {
	case ContractMonthToMonth: // mean 18 months, 16 % at one month
		if r.bernoulli(0.11) {
			return 1
		}
		t = 1 + math.Floor(19*r.exponential())
	case ContractOneYear: // mean 42 months
		t = math.Round(72 * math.Pow(r.float(), 0.75))
	default: // mean 57 months, 20 % at 72
		if r.bernoulli(0.18) {
			return 72
		}
		t = math.Round(72 * math.Pow(r.float(), 0.35))
	}
	return int(math.Min(math.Max(t, 1), 72))
}

// yesNoDraw returns "Yes" with probability p, else "No".
func yesNoDraw(r rng, p float64) string {
	if r.bernoulli(p) {
		return Yes
	}
	return No
}

// sigmoid returns 1/(1+exp(-z)) without overflow.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

package churn_test

import (
	"fmt"
	"strings"

	"github.com/playbook-mlops/playbook/churn"
)

// Evaluate scores four customers at a threshold of 0.5: scikit-learn's
// documentation example for roc_curve.
func ExampleEvaluate() {
	y := []float64{0, 0, 1, 1}
	scores := []float64{0.1, 0.4, 0.35, 0.8}
	m, err := churn.Evaluate(y, scores, 0.5)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("confusion %+v\n", m.Confusion)
	fmt.Printf("accuracy %.2f precision %.2f recall %.2f F1 %.3f\n", m.Accuracy, m.Precision, m.Recall, m.F1)
	fmt.Printf("ROC AUC %.2f log loss %.4f Brier %.6f\n", m.ROCAUC, m.LogLoss, m.Brier)
	// Output:
	// confusion {TN:2 FP:0 FN:1 TP:1}
	// accuracy 0.75 precision 1.00 recall 0.50 F1 0.667
	// ROC AUC 0.75 log loss 0.4723 Brier 0.158125
}

// With one class only, ROC AUC is undefined: Evaluate returns the other
// metrics and an error wrapping ErrOneClass.
func ExampleEvaluate_oneClass() {
	m, err := churn.Evaluate([]float64{0, 0, 0}, []float64{0.2, 0.6, 0.1}, 0.5)
	fmt.Println(err)
	fmt.Printf("accuracy %.4f, ROC AUC %v\n", m.Accuracy, m.ROCAUC)
	// Output:
	// churn: ROC AUC is undefined: the labels hold one class only
	// accuracy 0.6667, ROC AUC NaN
}

// ROCCurve returns scikit-learn's roc_curve: the first point at threshold
// +Inf, tied scores sharing one threshold.
func ExampleROCCurve() {
	fpr, tpr, thresholds := churn.ROCCurve(
		[]float64{1, 0, 1, 0, 0},
		[]float64{0.9, 0.9, 0.5, 0.2, 0.2},
	)
	for i := range fpr {
		fmt.Printf("threshold %v: fpr %.3f tpr %.3f\n", thresholds[i], fpr[i], tpr[i])
	}
	// Output:
	// threshold +Inf: fpr 0.000 tpr 0.000
	// threshold 0.9: fpr 0.333 tpr 0.500
	// threshold 0.5: fpr 0.333 tpr 1.000
	// threshold 0.2: fpr 1.000 tpr 1.000
}

// FairnessByGroup compares selection and error rates across groups, as
// fairlearn does.
func ExampleFairnessByGroup() {
	y := []float64{1, 1, 0, 0, 1, 0, 0, 0}
	pred := []int{1, 0, 1, 0, 1, 1, 0, 0}
	groups := []string{"0", "0", "0", "0", "1", "1", "1", "1"}
	f, err := churn.FairnessByGroup(y, pred, groups)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(f)
	// Output:
	// group          count selection    TPR    FPR
	// 0                  4    0.5000 0.5000 0.5000
	// 1                  4    0.5000 1.0000 0.3333
	// demographic parity difference 0.0000
	// equalized odds difference     0.5000
}

// The whole path: load a CSV file, split, fit, evaluate, score one customer.
func ExampleFit() {
	const csv = `customerID,gender,SeniorCitizen,Partner,Dependents,tenure,PhoneService,MultipleLines,InternetService,OnlineSecurity,OnlineBackup,DeviceProtection,TechSupport,StreamingTV,StreamingMovies,Contract,PaperlessBilling,PaymentMethod,MonthlyCharges,TotalCharges,Churn
7590-VHVEG,Female,0,Yes,No,1,No,No phone service,DSL,No,Yes,No,No,No,No,Month-to-month,Yes,Electronic check,29.85,29.85,No
`
	d, rep, err := churn.LoadCSV(strings.NewReader(csv), churn.LoadOptions{Name: "one.csv"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loaded %d rows from %s\n", rep.Rows, rep.Name)

	train, valid := churn.StratifiedSplit(churn.GenerateDataset(5000, 1), 0.25, 1)
	m, err := churn.Fit(train, churn.TrainOptions{L2: 1e-4})
	if err != nil {
		fmt.Println(err)
		return
	}
	met, err := m.Evaluate(valid)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("validation: %d rows, AUC above 0.8: %v\n", met.N, met.ROCAUC > 0.8)
	p := m.PredictOne(d.Customers[0])
	fmt.Printf("month-to-month, electronic check, 1 month: churn risk above 50%%: %v\n", p > 0.5)
	// Output:
	// loaded 1 rows from one.csv
	// validation: 1250 rows, AUC above 0.8: true
	// month-to-month, electronic check, 1 month: churn risk above 50%: true
}

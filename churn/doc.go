// Package churn is the churn domain of playbook: the Telco customer churn
// schema, a seeded generator of synthetic customers, a CSV loader for the real
// file, a stratified split, a feature encoding, L2-regularised logistic
// regression, validation metrics and fairness by group computed with gonum,
// and the model's MLflow artifact format.
//
// It imports no other package of this module.
//
// # Data
//
// [Customer] is one row of IBM's "Telco Customer Churn" file (21 columns,
// see [Schema] and [Categories]); a [Dataset] is a list of them. [Generate]
// draws synthetic customers whose label follows a documented logistic model
// ([GroundTruthLogit]), with a deliberate effect of the protected attribute
// SeniorCitizen. [LoadCSV] reads the real file; its errors name the file,
// the line and the column:
//
//	telco.csv:42: column "tenure": "abc" is not a number
//
// A blank TotalCharges (the real file has 11, all customers with tenure 0,
// not yet billed) is read as 0 and counted in the [LoadReport].
//
// # Model
//
// [StratifiedSplit] keeps the churn rate in both sets. [FitEncoder]
// standardises the numeric columns and one-hot encodes the categorical ones
// with the training set's statistics. [TrainLogistic] minimises the mean log
// loss plus (λ/2)‖w‖² (intercept not penalised) with gonum's L-BFGS; λ =
// 1/(C·n) gives scikit-learn's LogisticRegression(C). A [Model] bundles
// encoder, coefficients and decision threshold; [SaveModel] writes it as an
// MLflow model folder with the "playbook_churn" flavor, [LoadModel] reads it
// back bit for bit. The folder has MLflow's "python_function" flavor too:
// a loader module (pyfunc/playbook_churn_pyfunc.py, numpy and pandas only)
// that mlflow.pyfunc.load_model and `mlflow models serve` use to score the
// model in Python, to 1e-12 of the Go model's probabilities. Its predict
// returns labels at the model's threshold; params={"predict_method":
// "predict_proba"} returns probabilities.
//
// # Metrics
//
// [Evaluate], [ROCCurve], [PRCurve] and [FairnessByGroup] compute what
// scikit-learn's and fairlearn's functions of the same names compute, with
// their conventions for undefined cases; the package's tests check every
// number against the installed libraries to 1e-9
// (scripts/metrics_reference.py). A customer is predicted to churn when its
// probability is ≥ the threshold.
//
// Undefined cases:
//   - ROC AUC with one class: NaN and an error wrapping [ErrOneClass]
//     (scikit-learn warns and returns NaN); Evaluate still returns the
//     other metrics.
//   - Precision with nothing predicted positive, recall with no positive,
//     F1 when both are 0: 0 (scikit-learn's zero_division=0).
//   - The TPR of a group with no positive, the FPR of a group with no
//     negative: 0, as fairlearn.
//   - Log loss clips probabilities to [ε, 1−ε], ε = 2⁻⁵² (scikit-learn ≥ 1.5).
package churn

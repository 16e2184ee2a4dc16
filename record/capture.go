package record

import "time"

// Capture is a screenshot of a web page kept as evidence: the MLflow UI's
// page of the model, taken by the verify step, that the exercise's last
// section asks to look at. When no screenshot could be taken, PNG is empty
// and Reason says why, so that the report can say it.
type Capture struct {
	Step  string `json:"step,omitempty"`
	Title string `json:"title,omitempty"`
	// URL is the page captured, credentials removed.
	URL  string    `json:"url"`
	Time time.Time `json:"time,omitzero"`
	// PNG is the screenshot (base64 in JSON); Width and Height its size in
	// pixels.
	PNG    []byte `json:"png,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	// Reason says why there is no screenshot: no MLflow server with a UI,
	// no Chromium, a dry run, or the error the capture met.
	Reason string `json:"reason,omitempty"`
}

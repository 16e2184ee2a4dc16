package steps_test

import (
	"os"
	"testing"

	"github.com/playbook-mlops/playbook/internal/browser"
)

// TestMain turns verify's screenshot of the MLflow UI off (it takes about
// ten seconds a page against the real server) unless PLAYBOOK_CHROMIUM says
// otherwise; TestVerifyCapturesMLflowUI turns it on to assert the capture.
func TestMain(m *testing.M) {
	if os.Getenv(browser.EnvChromium) == "" {
		os.Setenv(browser.EnvChromium, "off")
	}
	os.Exit(m.Run())
}

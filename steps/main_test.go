package steps_test

import (
	"os"
	"testing"

	"github.com/playbook-mlops/playbook/internal/browser"
)

// TestMain turns verify's screenshot of the MLflow UI off (it takes about
// ten seconds a page against the real server) unless PLAYBOOK_CHROMIUM says
// otherwise; TestPromotionLifecycle turns it on for its first verify, which
// asserts the capture.
func TestMain(m *testing.M) {
	if os.Getenv(browser.EnvChromium) == "" {
		os.Setenv(browser.EnvChromium, "off")
	}
	os.Exit(m.Run())
}

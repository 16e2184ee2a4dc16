package mlflow

import (
	"context"
	"fmt"
)

// allPages collects the items of every page, calling page with each next
// page token from token on, until a page comes back without one. A server
// that hands out a token twice would loop forever; that is an error.
func allPages[T any](ctx context.Context, token string, page func(ctx context.Context, token string) ([]T, string, error)) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	for {
		items, next, err := page(ctx, token)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("mlflow: the server returned page token %q twice", next)
		}
		seen[next] = true
		token = next
	}
}

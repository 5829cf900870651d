package ctxbackground

import "context"

func detachedWithAReason(ctx context.Context) error {
	//gotrio:ctxbackground the audit log must be written even when ctx is cancelled
	return work(context.Background())
}

func detachedWithoutAReason(ctx context.Context) error {
	//gotrio:ctxbackground
	return work(context.Background()) // want `//gotrio:ctxbackground needs a reason`
}

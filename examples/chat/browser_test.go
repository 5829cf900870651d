package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gotrio/gotrio/internal/chromiumtest"
)

// TestTwoBrowserUsersSeeEachOthersMessages loads the real chat page twice in
// headless Chromium, types a message into each page as its user would and
// checks that each message shows up in the other page too. The pages are
// driven over the Chrome DevTools Protocol, spoken through a wsock client.
func TestTwoBrowserUsersSeeEachOthersMessages(t *testing.T) {
	chromiumtest.Require(t)
	withChat(t, func(ctx context.Context, addr string) error {
		browser, err := chromiumtest.Start(ctx, t)
		if err != nil {
			return err
		}
		defer browser.Stop()
		chatURL := "http://" + addr + "/"
		return browser.OpenPage(ctx, chatURL, "alice", func(ctx context.Context, alice *chromiumtest.Page) error {
			return browser.OpenPage(ctx, chatURL, "bob", func(ctx context.Context, bob *chromiumtest.Page) error {
				for _, p := range []*chromiumtest.Page{alice, bob} {
					if _, err := p.WaitForLine(ctx, "connected"); err != nil {
						return err
					}
				}
				for _, step := range []struct {
					from *chromiumtest.Page
					text string
				}{
					{alice, "hello from alice's browser"},
					{bob, "hi alice, bob here"},
				} {
					if err := step.from.Say(ctx, step.text); err != nil {
						return err
					}
					want := step.from.User + ": " + step.text
					for _, p := range []*chromiumtest.Page{alice, bob} {
						lines, err := p.WaitForLine(ctx, want)
						if err != nil {
							return err
						}
						assert.Contains(t, lines, want, "%s's page shows %s's message", p.User, step.from.User)
					}
				}
				for _, p := range []*chromiumtest.Page{alice, bob} {
					lines, err := p.LogLines(ctx)
					if err != nil {
						return err
					}
					assert.Equal(t, []string{
						"connected",
						"alice: hello from alice's browser",
						"bob: hi alice, bob here",
					}, lines, "%s's page", p.User)
				}
				return bob.Screenshot(ctx, t)
			})
		})
	})
}

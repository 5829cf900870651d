package chromiumtest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/internal/chromiumtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// page is a page shaped like examples/chat's: Send appends the #text field's value,
// prefixed by the #name field's, to the #log list.
const page = `<!doctype html><meta charset="utf-8">
<ul id="log"><li>ready</li></ul>
<form id="form"><input id="name"><input id="text"><button>Send</button></form>
<script>
document.getElementById('form').addEventListener('submit', (e) => {
  e.preventDefault();
  const li = document.createElement('li');
  li.textContent = document.getElementById('name').value + ': ' + document.getElementById('text').value;
  document.getElementById('log').appendChild(li);
  document.getElementById('text').value = '';
});
</script>`

func TestPageSaysAndReadsItsLog(t *testing.T) {
	chromiumtest.Require(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	defer srv.Close()
	b, err := chromiumtest.Start(t.Context(), t)
	require.NoError(t, err)
	defer b.Stop()
	err = b.OpenPage(t.Context(), srv.URL, "ada", func(ctx context.Context, p *chromiumtest.Page) error {
		assert.Equal(t, "ada", p.User)
		if err := p.Say(ctx, "hello"); err != nil {
			return err
		}
		lines, err := p.WaitForLine(ctx, "ada: hello")
		if err != nil {
			return err
		}
		assert.Equal(t, []string{"ready", "ada: hello"}, lines)
		var sum int
		if err := p.Eval(ctx, `Promise.resolve(20 + 22)`, &sum); err != nil {
			return err
		}
		assert.Equal(t, 42, sum, "promises are awaited")
		return nil
	})
	require.NoError(t, err)
}

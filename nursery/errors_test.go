package nursery_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
)

// listError is an error type whose values cannot be compared with ==.
type listError struct{ items []string }

func (e listError) Error() string { return strings.Join(e.items, ",") }

func TestUncomparableErrorsSurviveStripping(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("list", func(ctx context.Context) error {
			<-ctx.Done()
			return errors.Join(listError{[]string{"a", "b"}}, ctx.Err())
		})
		return listError{[]string{"c"}}
	})
	g := group(t, err)
	require.Len(t, g.Errs, 2)
	assert.Equal(t, listError{[]string{"c"}}, g.Errs[0])
	var le listError
	require.ErrorAs(t, g.Errs[1], &le)
	assert.Equal(t, []string{"a", "b"}, le.items)
	assert.NotErrorIs(t, err, context.Canceled)
}

func TestErrorGroupError(t *testing.T) {
	tests := []struct {
		name string
		errs []error
		want string
	}{
		{"none", nil, "nursery: no errors"},
		{"one", []error{errBoom}, "boom"},
		{"two", []error{&nursery.TaskError{Task: "a", Err: errBoom}, errOther}, "2 errors: task a: boom; other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, (&nursery.ErrorGroup{Errs: tt.errs}).Error())
		})
	}
}

func TestTaskErrorUnwrapsToTheTasksError(t *testing.T) {
	te := &nursery.TaskError{Task: "t", Err: &codeError{7}}
	var ce *codeError
	require.ErrorAs(t, te, &ce)
	assert.Equal(t, 7, ce.code)
	assert.Same(t, te.Err, errors.Unwrap(te))
}

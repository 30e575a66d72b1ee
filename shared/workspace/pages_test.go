package workspace_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/crmsync/crmsync/shared/workspace"
)

// listCall stands for a generated client's list call.
type listCall struct{ page string }

func (c *listCall) PageToken(p string) *listCall { return &listCall{page: p} }

func TestAtPageLeavesTheFirstRequestWithoutAToken(t *testing.T) {
	first := &listCall{}
	if got := workspace.AtPage(first, ""); got != first {
		t.Error("the first page's call was changed")
	}
	if got := workspace.AtPage(first, "p2"); got.page != "p2" {
		t.Errorf("the second page's call asks for %q", got.page)
	}
}

func TestEachPageFollowsTokensToTheLastPage(t *testing.T) {
	next := map[string]string{"": "a", "a": "b", "b": ""}
	var asked []string
	if err := workspace.EachPage(func(page string) (string, error) {
		asked = append(asked, page)
		return next[page], nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []string{"", "a", "b"}) {
		t.Errorf("pages asked: %q", asked)
	}
	boom := errors.New("boom")
	asked = nil
	err := workspace.EachPage(func(page string) (string, error) {
		asked = append(asked, page)
		if page == "a" {
			return "b", boom
		}
		return next[page], nil
	})
	if !errors.Is(err, boom) || len(asked) != 2 {
		t.Errorf("after an error: %v, pages asked %q", err, asked)
	}
}

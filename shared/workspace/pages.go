package workspace

// pageable is a Google API listing call that takes a page token (every
// list call of the generated clients has PageToken).
type pageable[C any] interface {
	PageToken(pageToken string) C
}

// AtPage is the listing call c asking for page: c itself for the first
// page (""), so the first request carries no pageToken parameter.
func AtPage[C pageable[C]](c C, page string) C {
	if page == "" {
		return c
	}
	return c.PageToken(page)
}

// EachPage reads a listing page by page: read gets the page token (""
// for the first page) and returns the next one, "" after the last page.
// It stops at read's first error.
func EachPage(read func(page string) (next string, err error)) error {
	page := ""
	for {
		next, err := read(page)
		if err != nil || next == "" {
			return err
		}
		page = next
	}
}

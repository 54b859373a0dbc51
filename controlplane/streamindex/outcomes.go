package streamindex

// Outcomes pairs the outcomes of an API message with the values their
// column stores, as receipts and delivery attempts each have. The API's
// zero value is its OUTCOME_UNSPECIFIED.
type Outcomes[API, Stored comparable] map[API]Stored

// Stored is how an API outcome is stored; false for a number the API does
// not define.
func (o Outcomes[API, Stored]) Stored(a API) (Stored, bool) {
	s, ok := o[a]
	return s, ok
}

// API is the API's name of a stored outcome, the zero outcome for one it
// does not know.
func (o Outcomes[API, Stored]) API(s Stored) API {
	for a, v := range o {
		if v == s {
			return a
		}
	}
	var unspecified API
	return unspecified
}

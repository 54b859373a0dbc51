package backbone

// GroupCommits is how many atomic batches s has stored.
func GroupCommits(s *EventStore) int64 {
	if s.group == nil {
		return 0
	}
	return s.group.committed.Load()
}

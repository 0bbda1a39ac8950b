package ext4

func (fs *FS) replayJournal() error { return corrupt("journal replay not implemented") }

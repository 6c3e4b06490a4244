package metrics

// RegisterTenants publishes the usage recorder's counts and the shared
// limit store's failures; each function is called at every scrape and must
// be safe for concurrent use.
func (s *Set) RegisterTenants(written, dropped, sharedFailures func() float64) {
	s.vm.NewGauge(nameUsageWritten, written)
	s.vm.NewGauge(nameUsageDropped, dropped)
	s.vm.NewGauge(nameSharedFailures, sharedFailures)
}

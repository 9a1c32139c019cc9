// (placeholder: learning tests)

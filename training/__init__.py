"""Training: dataset, models, honest evaluation and publishing of versioned artifacts."""

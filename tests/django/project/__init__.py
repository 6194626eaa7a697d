"""A minimal Django project the adapter tests run against: plain Django views
that refuse requests the way Django apps commonly do (no DRF)."""

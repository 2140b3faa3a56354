"""The provider's benchmark (``make bench``): figures printed, never asserted in tests."""

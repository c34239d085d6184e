"""Quality metrics shared by evaluation commands and tests (numpy only, no torch needed)."""

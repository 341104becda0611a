"""Browser tests: real Chromium through Playwright, against a live Heard."""

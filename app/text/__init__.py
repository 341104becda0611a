"""Text tools: screening posts for safety and redacting personal details."""

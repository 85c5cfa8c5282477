"""Workflows: which items are due, how each is rendered into a prompt, and how answers are stored."""

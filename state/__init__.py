"""Desired-state journal, replication and roles (dual control processors): see issue 3."""

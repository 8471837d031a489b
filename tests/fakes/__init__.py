"""Test doubles for the services Overnight talks to."""

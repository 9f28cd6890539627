"""Shipped SLA policy files (package data)."""

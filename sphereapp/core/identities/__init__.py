"""Identities: the gallery store and its snapshots, matching, enrolment and its hints; built on vision."""

"""Inbound events, by what each step acts on: store.py keeps them (raw, once), process.py
applies each stored one once (retries, quarantine, replay), match.py finds what an item
refers to, apply.py applies it by kind and hands replies up (outreach/seams.py)."""

"""Addresses and positions: one normalised key per place, and index-backed spatial lookups.

No PostGIS: positions are indexed by geohash cell (a short string in a btree
index), which works the same on SQLite and PostgreSQL.
"""

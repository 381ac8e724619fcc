"""Leaderboards, run comparison and HTML reports, built from run records only."""

"""Tests of the compliance review queue, its decisions and the suppression guard."""

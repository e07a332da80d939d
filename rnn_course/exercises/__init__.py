"""Exercises of the course: each a package holding its master notebook (package data) and its public checks."""

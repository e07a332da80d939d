"""Companion package of the course "Recurrent Networks in PyTorch"."""

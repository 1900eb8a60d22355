"""Januscaler Refunds: the billing team's refund back-office."""

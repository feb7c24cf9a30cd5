"""Wallet service: the double-entry ledger, balances, deposits, withdrawals and history."""

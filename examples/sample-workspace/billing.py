"""Billing helpers (a sample for Carryover: hover the marked lines)."""
import os

CATALOG = {"A-1": {"price": 12.5}}


def price_of(sku):
    # hover this line: a lookup that may find nothing, indexed without a check
    return CATALOG.get(sku)["price"]


def archive(folder):
    # hover this line: a shell command built from a string
    os.system("tar czf archive.tgz " + folder)

"""The editor features: each a small unit that registers its handlers on a CarryoverServer."""

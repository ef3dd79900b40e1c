"""The staff: console accounts, API keys and the access log of what they did."""

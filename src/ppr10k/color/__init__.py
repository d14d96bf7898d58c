"""ppr10k.color"""

"""ppr10k.data"""
